#include "conv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chan.h"
#include "clock.h"
#include "err.h"
#include "event.h"
#include "keys.h"
#include "presence.h"
#include "room.h"
#include "valid.h"
#include "xmalloc.h"

/* The value of field in an HGETALL reply, or NULL. */
static const char *conv_hash_get(const redisReply *h, const char *field)
{
    if (!h || h->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < h->elements; i += 2)
        if (strcmp(h->element[i]->str, field) == 0)
            return h->element[i + 1]->str;
    return NULL;
}

static long long conv_hash_int(const redisReply *h, const char *field)
{
    const char *v = conv_hash_get(h, field);
    return v ? strtoll(v, NULL, 10) : 0;
}

static double conv_ts(const cJSON *entry)
{
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(entry, "last"), "ts");
    return cJSON_IsNumber(ts) ? ts->valuedouble : 0;
}

static int conv_cmp_newest(const void *a, const void *b)
{
    double x = conv_ts(*(const cJSON *const *)a), y = conv_ts(*(const cJSON *const *)b);
    return x < y ? 1 : x > y ? -1 : 0;
}

/* One read of a room's newest CONV_UNREAD_SCAN events gives both its
 * unread count (messages from others after the read mark) and its last
 * event worth showing (presence comes and goes, it is not the last word
 * of a conversation). *last (caller deletes) may stay NULL. */
static int conv_room_scan(struct rdb *db, const struct user_id *me, const char *chan,
                          long long mark, long long *unread, cJSON **last)
{
    struct chan_range r;
    const cJSON *ev;
    int rc;

    *unread = 0;
    *last = NULL;
    if ((rc = chan_read(db, chan, 0, 0, CONV_UNREAD_SCAN, 1, &r)) < 0)
        return rc;
    cJSON_ArrayForEach(ev, r.events) {
        const cJSON *from = cJSON_GetObjectItemCaseSensitive(ev, "from");
        const char *type = event_type(ev);
        if (!type || strcmp(type, "presence") == 0)
            continue;
        *last = (cJSON *)ev;
        if (event_id(ev) > mark && strcmp(type, "msg") == 0 && cJSON_IsString(from) &&
            strcmp(from->valuestring, me->name) != 0)
            (*unread)++;
    }
    if (*last)
        *last = cJSON_Duplicate(*last, 1);
    chan_range_free(&r);
    return 0;
}

int conv_list(struct rdb *db, const struct user_id *me, cJSON **out)
{
    const char *p = db->cfg->key_prefix;
    char k[KEY_MAX], chan[CHAN_MAX], l[NAME_MAX_LEN + 1], field[NAME_MAX_LEN + 2];
    redisReply *peers = NULL, *rooms = NULL, *unread = NULL, *clear = NULL, *marks = NULL;
    redisReply **last = NULL;
    char (*lnames)[NAME_MAX_LEN + 1] = NULL;
    const char **lptr = NULL;
    bool *online = NULL;
    size_t npeers = 0, nrooms = 0, total;
    cJSON *list = NULL, **items = NULL;
    int rc, nitems = 0;

    *out = NULL;
    /* Round trip 1: the indexes and per-user hashes. */
    keys_conv(k, p, me->lname);
    if ((rc = rdb_append(db, "ZREVRANGE %s 0 %d", k, CONV_LIST_MAX - 1)) < 0)
        return rc;
    keys_user_rooms(k, p, me->lname);
    rdb_append(db, "SMEMBERS %s", k);
    keys_unread(k, p, me->lname);
    rdb_append(db, "HGETALL %s", k);
    keys_clear(k, p, me->lname);
    rdb_append(db, "HGETALL %s", k);
    keys_readmark(k, p, me->lname);
    rdb_append(db, "HGETALL %s", k);
    {
        int r[5];
        r[0] = rdb_next(db, &peers);
        r[1] = rdb_next(db, &rooms);
        r[2] = rdb_next(db, &unread);
        r[3] = rdb_next(db, &clear);
        r[4] = rdb_next(db, &marks);
        for (int i = 0; i < 5; i++)
            if (r[i] < 0 && rc == 0)
                rc = r[i];
        if (rc < 0)
            goto out;
    }
    npeers = peers->elements;
    nrooms = rooms->elements;
    total = npeers + nrooms;

    /* Round trip 2: the last event of each conversation. */
    last = xcalloc(total + 1, sizeof(*last));
    lnames = xcalloc(npeers + 1, sizeof(*lnames));
    lptr = xcalloc(npeers + 1, sizeof(*lptr));
    for (size_t i = 0; i < total; i++) {
        const char *name = i < npeers ? peers->element[i]->str : rooms->element[i - npeers]->str;
        valid_name_lower(l, name);
        if (i < npeers) {
            memcpy(lnames[i], l, sizeof(l));
            lptr[i] = lnames[i];
            keys_chan_dm(chan, me->lname, l);
        } else {
            keys_chan_room(chan, l);
        }
        keys_chan(k, p, chan);
        rdb_append(db, "LINDEX %s -1", k);
    }
    for (size_t i = 0; i < total; i++) {
        int r = rdb_next(db, &last[i]);
        if (r < 0 && rc == 0)
            rc = r;
    }
    if (rc < 0)
        goto out;
    online = xcalloc(npeers + 1, sizeof(*online));
    if ((rc = presence_check(db, lptr, (int)npeers, online)) < 0)
        goto out;

    items = xcalloc(total + 1, sizeof(*items));
    for (size_t i = 0; i < total; i++) {
        bool is_room = i >= npeers;
        const char *name = is_room ? rooms->element[i - npeers]->str : peers->element[i]->str;
        cJSON *ev, *entry;
        long long unread_n;

        if (last[i]->type != REDIS_REPLY_STRING ||
            !(ev = event_parse(last[i]->str, last[i]->len)))
            continue;
        valid_name_lower(l, name);
        snprintf(field, sizeof(field), "%s%s", is_room ? "#" : "", l);
        if (is_room) {
            cJSON *shown = NULL;
            keys_chan_room(chan, l);
            if ((rc = conv_room_scan(db, me, chan, conv_hash_int(marks, field), &unread_n, &shown)) < 0) {
                cJSON_Delete(ev);
                goto out;
            }
            if (shown) {
                cJSON_Delete(ev);
                ev = shown;
            }
        } else {
            unread_n = conv_hash_int(unread, field);
        }
        /* Deleted by this user and nothing newer since (presence does not
         * bring a conversation back: the room's shown event is checked). */
        if (event_id(ev) <= conv_hash_int(clear, field)) {
            cJSON_Delete(ev);
            continue;
        }
        entry = cJSON_CreateObject();
        if (is_room) {
            char conv[NAME_MAX_LEN + 2];
            snprintf(conv, sizeof(conv), "#%s", name);
            cJSON_AddStringToObject(entry, "conv", conv);
        } else {
            cJSON_AddStringToObject(entry, "conv", name);
        }
        cJSON_AddItemToObject(entry, "last", ev);
        cJSON_AddNumberToObject(entry, "unread", (double)unread_n);
        if (!is_room)
            cJSON_AddBoolToObject(entry, "online", online[i]);
        items[nitems++] = entry;
    }
    qsort(items, (size_t)nitems, sizeof(*items), conv_cmp_newest);
    *out = cJSON_CreateObject();
    list = cJSON_AddArrayToObject(*out, "conversations");
    for (int i = 0; i < nitems; i++)
        cJSON_AddItemToArray(list, items[i]);
    nitems = 0;
    rc = 0;
out:
    for (int i = 0; i < nitems; i++)
        cJSON_Delete(items[i]);
    free(items);
    for (size_t i = 0; last && i < total; i++)
        if (last[i])
            freeReplyObject(last[i]);
    free(last);
    free(lnames);
    free(lptr);
    free(online);
    if (peers) freeReplyObject(peers);
    if (rooms) freeReplyObject(rooms);
    if (unread) freeReplyObject(unread);
    if (clear) freeReplyObject(clear);
    if (marks) freeReplyObject(marks);
    return rc;
}

/* What a conversation key names: its display form ("Bob", "#Lobby"), its
 * field in the per-user hashes ("bob", "#lobby"), its history channel, and
 * for a DM the peer as stored in the conv index. */
struct conv_target {
    char display[NAME_MAX_LEN + 2];
    char field[NAME_MAX_LEN + 2];
    char chan[CHAN_MAX];
    char peer[NAME_MAX_LEN + 1];   /* "" for a room */
};

static int conv_resolve(struct rdb *db, const struct user_id *me, const char *conv,
                        struct conv_target *t)
{
    char lname[NAME_MAX_LEN + 1], room[NAME_MAX_LEN + 1];
    struct user_id peer;
    bool is_room;
    int rc;

    memset(t, 0, sizeof(*t));
    if (valid_conv(conv, &is_room, lname) < 0)
        return CHAT_ERR_INVALID;
    if (is_room) {
        if ((rc = room_lookup(db, lname, room)) < 0)
            return rc;
        snprintf(t->display, sizeof(t->display), "#%s", room);
        snprintf(t->field, sizeof(t->field), "#%s", lname);
        keys_chan_room(t->chan, lname);
    } else {
        if ((rc = user_lookup(db, lname, &peer)) < 0)
            return rc;
        snprintf(t->display, sizeof(t->display), "%s", peer.name);
        snprintf(t->field, sizeof(t->field), "%s", lname);
        snprintf(t->peer, sizeof(t->peer), "%s", peer.name);
        keys_chan_dm(t->chan, me->lname, lname);
    }
    return 0;
}

/* Members of the read / conv_deleted events: {"conv":…[,"upto":N]}. */
static char *conv_event_members(const char *conv, long long upto)
{
    cJSON *o = cJSON_CreateObject();
    char *m;

    cJSON_AddStringToObject(o, "conv", conv);
    if (upto >= 0)
        cJSON_AddNumberToObject(o, "upto", (double)upto);
    m = event_members(o);
    cJSON_Delete(o);
    return m;
}

int conv_read(struct rdb *db, const struct user_id *me, const char *conv, long long upto)
{
    const char *p = db->cfg->key_prefix;
    char k[6][KEY_MAX], inbox[CHAN_MAX], epoch[CHAN_EPOCH_LEN + 1];
    struct conv_target t;
    struct rdb_args a;
    redisReply *rep = NULL;
    char *members;
    int rc;

    if ((rc = conv_resolve(db, me, conv, &t)) < 0)
        return rc;
    keys_chan_inbox(inbox, me->lname);
    keys_unread(k[0], p, me->lname);
    keys_readmark(k[1], p, me->lname);
    keys_chan(k[2], p, inbox);
    keys_meta(k[3], p, inbox);
    keys_chan(k[4], p, t.chan);
    keys_meta(k[5], p, t.chan);
    members = conv_event_members(t.display, upto);
    chan_new_epoch(epoch);
    rdb_args_init(&a);
    for (int i = 0; i < 6; i++)
        rdb_args_str(&a, k[i]);
    rdb_args_str(&a, t.field);
    rdb_args_int(&a, upto);
    rdb_args_str(&a, inbox);
    rdb_args_int(&a, clock_now_ms());
    rdb_args_str(&a, members);
    rdb_args_int(&a, db->cfg->inbox_cap);
    rdb_args_str(&a, epoch);
    rdb_args_str(&a, t.peer);
    rdb_args_int(&a, CONV_UNREAD_SCAN_DM);
    rc = rdb_script(db, &rep, SCRIPT_CONV_READ, 6, 9, a.argv);
    free(members);
    if (rc == 0) {
        if (rdb_int(rep) < 0)
            rc = CHAT_ERR_INVALID;
        freeReplyObject(rep);
    }
    return rc;
}

int conv_delete(struct rdb *db, const struct user_id *me, const char *conv)
{
    const char *p = db->cfg->key_prefix;
    char k[7][KEY_MAX], inbox[CHAN_MAX], epoch[CHAN_EPOCH_LEN + 1];
    struct conv_target t;
    struct rdb_args a;
    redisReply *rep = NULL;
    char *members;
    int rc;

    if ((rc = conv_resolve(db, me, conv, &t)) < 0)
        return rc;
    keys_chan_inbox(inbox, me->lname);
    keys_clear(k[0], p, me->lname);
    keys_conv(k[1], p, me->lname);
    keys_unread(k[2], p, me->lname);
    keys_readmark(k[3], p, me->lname);
    keys_chan(k[4], p, inbox);
    keys_meta(k[5], p, inbox);
    keys_meta(k[6], p, t.chan);
    members = conv_event_members(t.display, -1);
    chan_new_epoch(epoch);
    rdb_args_init(&a);
    for (int i = 0; i < 7; i++)
        rdb_args_str(&a, k[i]);
    rdb_args_str(&a, t.field);
    rdb_args_str(&a, t.peer);
    rdb_args_str(&a, inbox);
    rdb_args_int(&a, clock_now_ms());
    rdb_args_str(&a, members);
    rdb_args_int(&a, db->cfg->inbox_cap);
    rdb_args_str(&a, epoch);
    rc = rdb_script(db, &rep, SCRIPT_CONV_DELETE, 7, 7, a.argv);
    free(members);
    if (rc == 0)
        freeReplyObject(rep);
    return rc;
}

#include "room.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "chan.h"
#include "clock.h"
#include "err.h"
#include "event.h"
#include "keys.h"
#include "log.h"
#include "valid.h"
#include "xmalloc.h"

int room_lookup(struct rdb *db, const char *name, char display[NAME_MAX_LEN + 1])
{
    char lroom[NAME_MAX_LEN + 1], k[KEY_MAX];
    redisReply *rep = NULL;
    int rc;

    if (valid_name_lower(lroom, name) < 0)
        return CHAT_ERR_INVALID;
    keys_room(k, db->cfg->key_prefix, lroom);
    if ((rc = rdb_cmd(db, &rep, "HGET %s name", k)) < 0)
        return rc;
    rc = rep->type == REDIS_REPLY_STRING ? 0 : CHAT_ERR_NOTFOUND;
    if (rc == 0)
        snprintf(display, NAME_MAX_LEN + 1, "%s", rep->str);
    freeReplyObject(rep);
    return rc;
}

/* The members of a join/leave event: {"room":..,"user":..}. */
static char *room_event_members(const char *room, const char *user)
{
    cJSON *o = cJSON_CreateObject();
    char *m;

    cJSON_AddStringToObject(o, "room", room);
    cJSON_AddStringToObject(o, "user", user);
    m = event_members(o);
    cJSON_Delete(o);
    return m;
}

/* Keys shared by create, join and leave: the room side and the user side. */
struct room_keys {
    char lroom[NAME_MAX_LEN + 1];
    char chan[CHAN_MAX];
    char room[KEY_MAX], rooms[KEY_MAX], members[KEY_MAX], urooms[KEY_MAX];
    char list[KEY_MAX], meta[KEY_MAX], readmark[KEY_MAX], clear[KEY_MAX];
    char field[NAME_MAX_LEN + 2];   /* '#' + lroom: the conv key in hashes */
    char inbox[CHAN_MAX], inbox_list[KEY_MAX], inbox_meta[KEY_MAX];   /* the user's */
};

static int room_keys_fill(struct room_keys *k, const char *prefix, const struct user_id *me,
                          const char *name)
{
    /* Without a user the user-side keys name nobody; scripts skip them. */
    const char *lname = me ? me->lname : "-";

    if (valid_name_lower(k->lroom, name) < 0)
        return CHAT_ERR_INVALID;
    keys_chan_room(k->chan, k->lroom);
    keys_room(k->room, prefix, k->lroom);
    keys_rooms(k->rooms, prefix);
    keys_members(k->members, prefix, k->lroom);
    keys_user_rooms(k->urooms, prefix, lname);
    keys_chan(k->list, prefix, k->chan);
    keys_meta(k->meta, prefix, k->chan);
    keys_readmark(k->readmark, prefix, lname);
    keys_clear(k->clear, prefix, lname);
    snprintf(k->field, sizeof(k->field), "#%s", k->lroom);
    keys_chan_inbox(k->inbox, lname);
    keys_chan(k->inbox_list, prefix, k->inbox);
    keys_meta(k->inbox_meta, prefix, k->inbox);
    return 0;
}

/* The members of the user's joined/left notice: {"room":..}. */
static char *room_notice_members(const char *room)
{
    cJSON *o = cJSON_CreateObject();
    char *m;

    cJSON_AddStringToObject(o, "room", room);
    m = event_members(o);
    cJSON_Delete(o);
    return m;
}

int room_create(struct rdb *db, const struct user_id *me, const char *name,
                const char *title, cJSON **out)
{
    struct room_keys k;
    struct rdb_args a;
    char epoch[CHAN_EPOCH_LEN + 1];
    char *members = NULL, *notice = NULL;
    redisReply *rep = NULL;
    int rc;

    *out = NULL;
    if (room_keys_fill(&k, db->cfg->key_prefix, me, name) < 0)
        return CHAT_ERR_INVALID;
    if (!title || !title[0])
        title = name;
    else if ((rc = valid_text(title, strlen(title), ROOM_TITLE_MAX)) < 0)
        return rc;
    members = room_event_members(name, me ? me->name : "");
    notice = room_notice_members(name);
    chan_new_epoch(epoch);
    rdb_args_init(&a);
    rdb_args_str(&a, k.room);
    rdb_args_str(&a, k.rooms);
    rdb_args_str(&a, k.members);
    rdb_args_str(&a, k.urooms);
    rdb_args_str(&a, k.list);
    rdb_args_str(&a, k.meta);
    rdb_args_str(&a, k.readmark);
    rdb_args_str(&a, k.inbox_list);
    rdb_args_str(&a, k.inbox_meta);
    rdb_args_str(&a, name);
    rdb_args_str(&a, k.lroom);
    rdb_args_str(&a, title);
    rdb_args_str(&a, me ? me->name : "");
    rdb_args_int(&a, clock_now_ms());
    rdb_args_str(&a, k.chan);
    rdb_args_str(&a, members);
    rdb_args_int(&a, db->cfg->history_cap);
    rdb_args_str(&a, epoch);
    rdb_args_str(&a, k.field);
    rdb_args_str(&a, k.inbox);
    rdb_args_int(&a, db->cfg->inbox_cap);
    rdb_args_str(&a, notice);
    rc = rdb_script(db, &rep, SCRIPT_ROOM_CREATE, 9, 13, a.argv);
    free(members);
    free(notice);
    if (rc < 0)
        return rc;
    rc = rdb_int(rep) == 1 ? 0 : CHAT_ERR_CONFLICT;
    freeReplyObject(rep);
    if (rc == 0) {
        *out = cJSON_CreateObject();
        cJSON_AddStringToObject(*out, "room", name);
        cJSON_AddStringToObject(*out, "title", title);
    }
    return rc;
}

/* Join and leave differ only in the script and the event type. */
static int room_member_change(struct rdb *db, const struct user_id *me, const char *name,
                              enum script_id script)
{
    struct room_keys k;
    struct rdb_args a;
    char display[NAME_MAX_LEN + 1], epoch[CHAN_EPOCH_LEN + 1];
    char *members, *notice;
    redisReply *rep = NULL;
    int rc, nkeys = script == SCRIPT_ROOM_JOIN ? 9 : 8;

    if ((rc = room_lookup(db, name, display)) < 0)
        return rc;
    room_keys_fill(&k, db->cfg->key_prefix, me, display);
    members = room_event_members(display, me->name);
    notice = room_notice_members(display);
    chan_new_epoch(epoch);
    rdb_args_init(&a);
    rdb_args_str(&a, k.room);
    rdb_args_str(&a, k.members);
    rdb_args_str(&a, k.urooms);
    rdb_args_str(&a, k.list);
    rdb_args_str(&a, k.meta);
    rdb_args_str(&a, k.readmark);
    if (script == SCRIPT_ROOM_JOIN)
        rdb_args_str(&a, k.clear);
    rdb_args_str(&a, k.inbox_list);
    rdb_args_str(&a, k.inbox_meta);
    rdb_args_str(&a, me->name);
    rdb_args_str(&a, display);
    rdb_args_str(&a, k.chan);
    rdb_args_int(&a, clock_now_ms());
    rdb_args_str(&a, members);
    rdb_args_int(&a, db->cfg->history_cap);
    rdb_args_str(&a, epoch);
    rdb_args_str(&a, k.field);
    rdb_args_str(&a, k.inbox);
    rdb_args_int(&a, db->cfg->inbox_cap);
    rdb_args_str(&a, notice);
    rc = rdb_script(db, &rep, script, nkeys, 11, a.argv);
    free(members);
    free(notice);
    if (rc < 0)
        return rc;
    rc = rdb_int(rep) < 0 ? CHAT_ERR_NOTFOUND : 0;
    freeReplyObject(rep);
    return rc;
}

int room_join(struct rdb *db, const struct user_id *me, const char *name)
{
    return room_member_change(db, me, name, SCRIPT_ROOM_JOIN);
}

int room_leave(struct rdb *db, const struct user_id *me, const char *name)
{
    return room_member_change(db, me, name, SCRIPT_ROOM_LEAVE);
}

static int room_cmp_name(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    const cJSON *nx = cJSON_GetObjectItemCaseSensitive(x, "room");
    const cJSON *ny = cJSON_GetObjectItemCaseSensitive(y, "room");
    const char *sx = cJSON_IsString(nx) ? nx->valuestring : (cJSON_IsString(x) ? x->valuestring : "");
    const char *sy = cJSON_IsString(ny) ? ny->valuestring : (cJSON_IsString(y) ? y->valuestring : "");
    return strcasecmp(sx, sy);
}

/* Sorts a cJSON array of room objects or of strings by room name. */
static void room_sort(cJSON *arr)
{
    int n = cJSON_GetArraySize(arr);
    cJSON **items;

    if (n < 2)
        return;
    items = xcalloc((size_t)n, sizeof(*items));
    for (int i = n - 1; i >= 0; i--)
        items[i] = cJSON_DetachItemFromArray(arr, i);
    qsort(items, (size_t)n, sizeof(*items), room_cmp_name);
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, items[i]);
    free(items);
}

int room_list(struct rdb *db, const struct user_id *me, cJSON **out)
{
    const char *prefix = db->cfg->key_prefix;
    char k[KEY_MAX], m[KEY_MAX];
    redisReply *all = NULL;
    cJSON *rooms;
    int rc;

    *out = NULL;
    keys_rooms(k, prefix);
    if ((rc = rdb_cmd(db, &all, "SMEMBERS %s", k)) < 0)
        return rc;
    for (size_t i = 0; i < all->elements && rc == 0; i++) {
        keys_room(k, prefix, all->element[i]->str);
        keys_members(m, prefix, all->element[i]->str);
        if ((rc = rdb_append(db, "HMGET %s name title", k)) == 0 &&
            (rc = rdb_append(db, "SCARD %s", m)) == 0)
            rc = rdb_append(db, "SISMEMBER %s %s", m, me->name);
    }
    *out = cJSON_CreateObject();
    rooms = cJSON_AddArrayToObject(*out, "rooms");
    for (size_t i = 0; i < all->elements; i++) {
        redisReply *h = NULL, *n = NULL, *j = NULL;
        int r1 = rdb_next(db, &h), r2 = rdb_next(db, &n), r3 = rdb_next(db, &j);
        const redisReply *name = rdb_elem(h, 0), *title = rdb_elem(h, 1);
        if (r1 < 0 || r2 < 0 || r3 < 0) {
            if (rc == 0)
                rc = r1 < 0 ? r1 : r2 < 0 ? r2 : r3;
        } else if (name && name->type == REDIS_REPLY_STRING) {
            cJSON *r = cJSON_CreateObject();
            cJSON_AddStringToObject(r, "room", name->str);
            cJSON_AddStringToObject(r, "title", title && title->type == REDIS_REPLY_STRING ? title->str : name->str);
            cJSON_AddNumberToObject(r, "members", (double)rdb_int(n));
            cJSON_AddBoolToObject(r, "joined", rdb_int(j) == 1);
            cJSON_AddItemToArray(rooms, r);
        }
        if (h) freeReplyObject(h);
        if (n) freeReplyObject(n);
        if (j) freeReplyObject(j);
    }
    freeReplyObject(all);
    if (rc < 0) {
        cJSON_Delete(*out);
        *out = NULL;
        return rc;
    }
    room_sort(rooms);
    return 0;
}

int room_joined(struct rdb *db, const struct user_id *me, cJSON **out)
{
    char k[KEY_MAX];
    redisReply *rep = NULL;
    int rc;

    *out = NULL;
    keys_user_rooms(k, db->cfg->key_prefix, me->lname);
    if ((rc = rdb_cmd(db, &rep, "SMEMBERS %s", k)) < 0)
        return rc;
    *out = cJSON_CreateArray();
    for (size_t i = 0; i < rep->elements; i++)
        if (rep->element[i]->type == REDIS_REPLY_STRING)
            cJSON_AddItemToArray(*out, cJSON_CreateString(rep->element[i]->str));
    freeReplyObject(rep);
    room_sort(*out);
    return 0;
}

int room_delete(struct rdb *db, const char *name)
{
    const char *prefix = db->cfg->key_prefix;
    char display[NAME_MAX_LEN + 1], lroom[NAME_MAX_LEN + 1], lname[NAME_MAX_LEN + 1];
    char k[KEY_MAX], members[KEY_MAX], room[KEY_MAX], chan[CHAN_MAX], list[KEY_MAX], meta[KEY_MAX];
    redisReply *all = NULL, *rep = NULL;
    int rc;

    if ((rc = room_lookup(db, name, display)) < 0)
        return rc;
    valid_name_lower(lroom, display);
    keys_members(members, prefix, lroom);
    if ((rc = rdb_cmd(db, &all, "SMEMBERS %s", members)) < 0)
        return rc;
    for (size_t i = 0; i < all->elements && rc == 0; i++) {
        if (valid_name_lower(lname, all->element[i]->str) < 0)
            continue;
        keys_user_rooms(k, prefix, lname);
        if ((rc = rdb_cmd(db, &rep, "SREM %s %s", k, display)) == 0)
            freeReplyObject(rep);
    }
    freeReplyObject(all);
    if (rc < 0)
        return rc;
    keys_room(room, prefix, lroom);
    keys_chan_room(chan, lroom);
    keys_chan(list, prefix, chan);
    keys_meta(meta, prefix, chan);
    keys_rooms(k, prefix);
    /* The meta key goes too: a room created again later gets a new epoch,
     * so old cursors see a reset instead of the new room's ids. */
    if ((rc = rdb_cmd(db, &rep, "DEL %s %s %s %s", room, members, list, meta)) < 0)
        return rc;
    freeReplyObject(rep);
    if ((rc = rdb_cmd(db, &rep, "SREM %s %s", k, lroom)) < 0)
        return rc;
    freeReplyObject(rep);
    log_info("room", "event=room_deleted room=%s", display);
    return 0;
}

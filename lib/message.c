#include "message.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chan.h"
#include "clock.h"
#include "err.h"
#include "event.h"
#include "keys.h"
#include "media.h"
#include "ratelimit.h"
#include "room.h"
#include "valid.h"

/* The members every copy of a message carries: who, to whom, what. */
static char *message_members(const char *from, const char *to_key, const char *to,
                             const struct message_in *in, const struct media_info *att)
{
    cJSON *o = cJSON_CreateObject();
    char *m;

    cJSON_AddStringToObject(o, "from", from);
    cJSON_AddStringToObject(o, to_key, to);
    cJSON_AddStringToObject(o, "text", in->text);
    if (in->cid)
        cJSON_AddStringToObject(o, "cid", in->cid);
    if (att)
        cJSON_AddItemToObject(o, "att", media_att_json(att));
    m = event_members(o);
    cJSON_Delete(o);
    return m;
}

static int message_send_dm(struct rdb *db, const struct user_id *from, const struct message_in *in,
                           const struct media_info *att, const char *cidkey, struct message_out *out)
{
    const struct chat_config *cfg = db->cfg;
    const char *p = cfg->key_prefix;
    struct user_id to;
    char dm[CHAN_MAX], in_from[CHAN_MAX], in_to[CHAN_MAX];
    char k[11][KEY_MAX], epoch[CHAN_EPOCH_LEN + 1];
    char *members;
    struct rdb_args a;
    redisReply *rep = NULL;
    int rc;

    if ((rc = user_lookup(db, in->to, &to)) < 0)
        return rc;
    if (strcmp(to.lname, from->lname) == 0)
        return CHAT_ERR_INVALID;
    keys_chan_dm(dm, from->lname, to.lname);
    keys_chan_inbox(in_from, from->lname);
    keys_chan_inbox(in_to, to.lname);
    keys_chan(k[0], p, dm);
    keys_meta(k[1], p, dm);
    keys_chan(k[2], p, in_from);
    keys_meta(k[3], p, in_from);
    keys_chan(k[4], p, in_to);
    keys_meta(k[5], p, in_to);
    keys_unread(k[6], p, to.lname);
    keys_conv(k[7], p, from->lname);
    keys_conv(k[8], p, to.lname);
    snprintf(k[9], KEY_MAX, "%s", cidkey);
    keys_user(k[10], p, to.lname);
    members = message_members(from->name, "to", to.name, in, att);
    chan_new_epoch(epoch);

    rdb_args_init(&a);
    for (int i = 0; i < 11; i++)
        rdb_args_str(&a, k[i]);
    rdb_args_str(&a, dm);
    rdb_args_str(&a, in_from);
    rdb_args_str(&a, in_to);
    rdb_args_int(&a, clock_now_ms());
    rdb_args_str(&a, members);
    rdb_args_int(&a, cfg->history_cap);
    rdb_args_int(&a, cfg->inbox_cap);
    rdb_args_int(&a, in->cid ? cfg->cid_ttl : 0);
    rdb_args_str(&a, epoch);
    rdb_args_str(&a, from->name);
    rdb_args_str(&a, to.name);
    rdb_args_str(&a, from->lname);
    rc = rdb_script(db, &rep, SCRIPT_SEND_DM, 11, 12, a.argv);
    free(members);
    if (rc < 0)
        return rc;
    out->id = rdb_int(rdb_elem(rep, 0));
    out->ts = rdb_int(rdb_elem(rep, 1));
    freeReplyObject(rep);
    if (out->id < 0)
        return CHAT_ERR_NOTFOUND;   /* deleted between lookup and send */
    snprintf(out->conv, sizeof(out->conv), "%s", to.name);
    return att ? media_attach(db, att->hash, dm) : 0;
}

static int message_send_room(struct rdb *db, const struct user_id *from, const struct message_in *in,
                             const struct media_info *att, const char *cidkey, struct message_out *out)
{
    const struct chat_config *cfg = db->cfg;
    const char *p = cfg->key_prefix;
    char room[NAME_MAX_LEN + 1], lroom[NAME_MAX_LEN + 1], chan[CHAN_MAX];
    char list[KEY_MAX], meta[KEY_MAX], members_key[KEY_MAX], room_key[KEY_MAX];
    char epoch[CHAN_EPOCH_LEN + 1];
    char *members;
    struct rdb_args a;
    redisReply *rep = NULL;
    int rc;

    if ((rc = room_lookup(db, in->room, room)) < 0)
        return rc;
    valid_name_lower(lroom, room);
    keys_chan_room(chan, lroom);
    keys_chan(list, p, chan);
    keys_meta(meta, p, chan);
    keys_members(members_key, p, lroom);
    keys_room(room_key, p, lroom);
    members = message_members(from->name, "room", room, in, att);
    chan_new_epoch(epoch);

    rdb_args_init(&a);
    rdb_args_str(&a, list);
    rdb_args_str(&a, meta);
    rdb_args_str(&a, members_key);
    rdb_args_str(&a, cidkey);
    rdb_args_str(&a, room_key);
    rdb_args_str(&a, chan);
    rdb_args_int(&a, clock_now_ms());
    rdb_args_str(&a, members);
    rdb_args_int(&a, cfg->history_cap);
    rdb_args_int(&a, in->cid ? cfg->cid_ttl : 0);
    rdb_args_str(&a, epoch);
    rdb_args_str(&a, from->name);
    rc = rdb_script(db, &rep, SCRIPT_SEND_ROOM, 5, 7, a.argv);
    free(members);
    if (rc < 0)
        return rc;
    out->id = rdb_int(rdb_elem(rep, 0));
    out->ts = rdb_int(rdb_elem(rep, 1));
    freeReplyObject(rep);
    if (out->id == -1)
        return CHAT_ERR_NOTFOUND;
    if (out->id == -2)
        return CHAT_ERR_FORBIDDEN;
    snprintf(out->conv, sizeof(out->conv), "#%s", room);
    return att ? media_attach(db, att->hash, chan) : 0;
}

/* 0 and *out filled if this cid was sent already (the first result), 1
 * if not, or an error. */
static int message_cid_seen(struct rdb *db, const char *cidkey, const struct message_in *in,
                            struct message_out *out)
{
    char display[NAME_MAX_LEN + 1];
    struct user_id to;
    redisReply *rep = NULL;
    long long id = 0, ts = 0;
    int rc;

    if ((rc = rdb_cmd(db, &rep, "GET %s", cidkey)) < 0)
        return rc;
    rc = rep->type == REDIS_REPLY_STRING && sscanf(rep->str, "%lld %lld", &id, &ts) == 2 ? 0 : 1;
    freeReplyObject(rep);
    if (rc)
        return 1;
    if (in->to && (rc = user_lookup(db, in->to, &to)) == 0)
        snprintf(out->conv, sizeof(out->conv), "%s", to.name);
    else if (in->room && (rc = room_lookup(db, in->room, display)) == 0)
        snprintf(out->conv, sizeof(out->conv), "#%s", display);
    if (rc < 0)
        return rc;
    out->id = id;
    out->ts = ts;
    return 0;
}

int message_send(struct rdb *db, const struct user_id *from, const struct message_in *in,
                 struct message_out *out)
{
    const struct chat_config *cfg = db->cfg;
    char cidkey[KEY_MAX], hash[MEDIA_HASH_LEN + 1], lconv[NAME_MAX_LEN + 1];
    char cidsub[NAME_MAX_LEN + CID_MAX_LEN + 4];
    struct media_info att;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((in->to == NULL) == (in->room == NULL) || !in->text)
        return CHAT_ERR_INVALID;
    if (!(in->att_url && in->text_len == 0) &&
        (rc = valid_text(in->text, in->text_len, (size_t)cfg->max_text)) < 0)
        return rc;
    if (in->att_url) {
        /* Only a file this sender may already fetch: knowing a URL must
         * not be enough to attach it somewhere and so gain access. */
        if (media_hash_from_url(in->att_url, hash) < 0)
            return CHAT_ERR_INVALID;
        if ((rc = media_allowed(db, from, hash, &att)) < 0)
            return rc == CHAT_ERR_NOTFOUND || rc == CHAT_ERR_FORBIDDEN ? CHAT_ERR_INVALID : rc;
    }
    if (in->cid && !valid_cid(in->cid))
        return CHAT_ERR_INVALID;
    if (valid_name_lower(lconv, in->to ? in->to : in->room) < 0)
        return CHAT_ERR_INVALID;
    /* A cid names one send in one conversation. Without a cid the key is
     * still named (scripts declare every key) but never read or written:
     * the ttl argument is 0. */
    snprintf(cidsub, sizeof(cidsub), "%s%s:%s", in->room ? "#" : "", lconv, in->cid ? in->cid : "-");
    keys_cid(cidkey, cfg->key_prefix, from->lname, cidsub);
    /* A retry of a send that went through answers as the first time did,
     * without counting against the rate limit again. */
    if (in->cid && (rc = message_cid_seen(db, cidkey, in, out)) != 1)
        return rc;
    if ((rc = ratelimit_hit(db, "send", from->lname, 1, cfg->send_max, cfg->send_window,
                            &out->retry_after)) < 0)
        return rc;
    if (in->to)
        return message_send_dm(db, from, in, in->att_url ? &att : NULL, cidkey, out);
    return message_send_room(db, from, in, in->att_url ? &att : NULL, cidkey, out);
}

int message_history(struct rdb *db, const struct user_id *me, const char *conv,
                    long long before, int limit, cJSON **out)
{
    const char *p = db->cfg->key_prefix;
    char lname[NAME_MAX_LEN + 1], display[NAME_MAX_LEN + 1], chan[CHAN_MAX];
    char clear[KEY_MAX], field[NAME_MAX_LEN + 2];
    struct user_id peer;
    struct chan_range r;
    redisReply *rep = NULL;
    long long floor_id, lowest;
    cJSON *messages, *firstev;
    bool is_room, more = false;
    int rc;

    *out = NULL;
    if (valid_conv(conv, &is_room, lname) < 0)
        return CHAT_ERR_INVALID;
    if (is_room) {
        if ((rc = room_lookup(db, lname, display)) < 0)
            return rc;
        keys_chan_room(chan, lname);
        snprintf(field, sizeof(field), "#%s", lname);
    } else {
        if ((rc = user_lookup(db, lname, &peer)) < 0)
            return rc;
        keys_chan_dm(chan, me->lname, peer.lname);
        snprintf(field, sizeof(field), "%s", lname);
    }
    /* What this user deleted stays out of their view only. */
    keys_clear(clear, p, me->lname);
    if ((rc = rdb_cmd(db, &rep, "HGET %s %s", clear, field)) < 0)
        return rc;
    floor_id = rdb_int(rep);
    freeReplyObject(rep);

    /* Presence comes and goes; it is live news, not conversation: leave
     * it out, and read further back until the page is full. */
    *out = cJSON_CreateObject();
    messages = cJSON_AddArrayToObject(*out, "messages");
    for (int round = 0; round < MESSAGE_HISTORY_ROUNDS; round++) {
        if ((rc = chan_read(db, chan, floor_id, before, limit - cJSON_GetArraySize(messages), 1, &r)) < 0) {
            cJSON_Delete(*out);
            *out = NULL;
            return rc;
        }
        lowest = r.first > floor_id + 1 ? r.first : floor_id + 1;
        firstev = cJSON_GetArrayItem(r.events, 0);
        more = firstev && event_id(firstev) > lowest;
        if (firstev)
            before = event_id(firstev);
        /* Older events go in front of what is there already. */
        for (int i = cJSON_GetArraySize(r.events) - 1; i >= 0; i--) {
            cJSON *ev = cJSON_DetachItemFromArray(r.events, i);
            const char *type = event_type(ev);
            if (type && strcmp(type, "presence") == 0) {
                cJSON_Delete(ev);
                continue;
            }
            cJSON_InsertItemInArray(messages, 0, ev);
        }
        chan_range_free(&r);
        if (!more || cJSON_GetArraySize(messages) >= limit)
            break;
    }
    cJSON_AddBoolToObject(*out, "more", more);
    return 0;
}

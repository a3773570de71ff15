#include "chan.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "event.h"
#include "keys.h"
#include "log.h"

void chan_new_epoch(char out[CHAN_EPOCH_LEN + 1])
{
    unsigned char raw[CHAN_EPOCH_LEN / 2];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(out, CHAN_EPOCH_LEN + 1, raw, sizeof(raw));
}

void chan_range_free(struct chan_range *r)
{
    cJSON_Delete(r->events);
    r->events = NULL;
}

int chan_read(struct rdb *db, const char *chan, long long after, long long before,
              int limit, int newest, struct chan_range *r)
{
    char list[KEY_MAX], meta[KEY_MAX], a[24], b[24], l[16];
    const char *prefix = db->cfg->key_prefix;
    redisReply *rep = NULL;
    const redisReply *ep, *entries;
    int rc;

    memset(r, 0, sizeof(*r));
    if (keys_chan(list, prefix, chan) < 0 || keys_meta(meta, prefix, chan) < 0)
        return CHAT_ERR_INVALID;
    snprintf(a, sizeof(a), "%lld", after);
    snprintf(b, sizeof(b), "%lld", before);
    snprintf(l, sizeof(l), "%d", limit);
    const char *argv[] = { list, meta, a, b, l, newest ? "1" : "0" };
    if ((rc = rdb_script(db, &rep, SCRIPT_CHAN_READ, 2, 4, argv)) < 0)
        return rc;

    ep = rdb_elem(rep, 0);
    entries = rdb_elem(rep, 3);
    if (!ep || ep->type != REDIS_REPLY_STRING || !entries || entries->type != REDIS_REPLY_ARRAY) {
        log_error("chan", "event=bad_reply script=chan_read chan=%s", chan);
        freeReplyObject(rep);
        return CHAT_ERR_INTERNAL;
    }
    snprintf(r->epoch, sizeof(r->epoch), "%s", ep->str);
    r->seq = rdb_int(rdb_elem(rep, 1));
    r->first = rdb_int(rdb_elem(rep, 2));
    r->events = cJSON_CreateArray();
    for (size_t i = 0; i < entries->elements; i++) {
        const redisReply *e = entries->element[i];
        cJSON *ev = e->type == REDIS_REPLY_STRING ? event_parse(e->str, e->len) : NULL;
        if (!ev) {
            log_warn("chan", "event=bad_entry chan=%s index=%zu", chan, i);
            continue;
        }
        cJSON_AddItemToArray(r->events, ev);
    }
    freeReplyObject(rep);
    return 0;
}

int chan_push(struct rdb *db, const char *chan, const char *type, const char *members,
              int cap, long long *id)
{
    char list[KEY_MAX], meta[KEY_MAX], ts[24], capbuf[16], epoch[CHAN_EPOCH_LEN + 1];
    const char *prefix = db->cfg->key_prefix;
    redisReply *rep = NULL;
    int rc;

    if (keys_chan(list, prefix, chan) < 0 || keys_meta(meta, prefix, chan) < 0)
        return CHAT_ERR_INVALID;
    snprintf(ts, sizeof(ts), "%lld", clock_now_ms());
    snprintf(capbuf, sizeof(capbuf), "%d", cap);
    chan_new_epoch(epoch);
    const char *argv[] = { list, meta, chan, type, ts, members, capbuf, epoch };
    if ((rc = rdb_script(db, &rep, SCRIPT_CHAN_PUSH, 2, 6, argv)) < 0)
        return rc;
    if (id)
        *id = rdb_int(rep);
    freeReplyObject(rep);
    return 0;
}

#include "follow.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "keys.h"
#include "room.h"
#include "valid.h"
#include "xmalloc.h"

void follow_free(struct follow *f)
{
    free(f->chans);
    cJSON_Delete(f->rooms);
    memset(f, 0, sizeof(*f));
}

int follow_load(struct rdb *db, const struct user_id *me, struct follow *f)
{
    char lroom[NAME_MAX_LEN + 1];
    const cJSON *r;
    int rc, n;

    memset(f, 0, sizeof(*f));
    if ((rc = room_joined(db, me, &f->rooms)) < 0)
        return rc;
    n = cJSON_GetArraySize(f->rooms);
    f->chans = xcalloc((size_t)n + 1, sizeof(*f->chans));
    keys_chan_inbox(f->chans[f->n++], me->lname);
    cJSON_ArrayForEach(r, f->rooms) {
        if (!cJSON_IsString(r) || valid_name_lower(lroom, r->valuestring) < 0)
            continue;
        keys_chan_room(f->chans[f->n++], lroom);
    }
    return 0;
}

int follow_cursor_now(struct rdb *db, const struct follow *f, char **cursor)
{
    char k[KEY_MAX];
    struct cursor c;
    int rc = 0;

    *cursor = NULL;
    cursor_init(&c);
    for (int i = 0; i < f->n && rc == 0; i++) {
        keys_meta(k, db->cfg->key_prefix, f->chans[i]);
        rc = rdb_append(db, "HMGET %s epoch seq", k);
    }
    for (int i = 0; i < f->n; i++) {
        redisReply *rep = NULL;
        int r = rdb_next(db, &rep);
        if (r == 0) {
            const redisReply *ep = rdb_elem(rep, 0);
            cursor_set(&c, f->chans[i], ep && ep->type == REDIS_REPLY_STRING ? ep->str : "",
                       rdb_int(rdb_elem(rep, 1)));
        } else if (rc == 0) {
            rc = r;
        }
        if (rep)
            freeReplyObject(rep);
    }
    if (rc == 0)
        *cursor = cursor_encode(&c);
    cursor_free(&c);
    return rc;
}

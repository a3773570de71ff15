#include "ratelimit.h"

#include "err.h"
#include "keys.h"

int ratelimit_hit(struct rdb *db, const char *kind, const char *subject,
                  int amount, int max, int window_s, int *retry_after)
{
    char key[KEY_MAX];
    struct rdb_args a;
    redisReply *rep = NULL;
    long long count, ttl_ms;
    int rc;

    *retry_after = 0;
    if (keys_ratelimit(key, db->cfg->key_prefix, kind, subject) < 0)
        return CHAT_ERR_INVALID;
    rdb_args_init(&a);
    rdb_args_str(&a, key);
    rdb_args_int(&a, window_s);
    rdb_args_int(&a, amount);
    if ((rc = rdb_script(db, &rep, SCRIPT_RATELIMIT, 1, 2, a.argv)) < 0)
        return rc;
    count = rdb_int(rdb_elem(rep, 0));
    ttl_ms = rdb_int(rdb_elem(rep, 1));
    freeReplyObject(rep);
    if (count <= max)
        return 0;
    *retry_after = (int)((ttl_ms + 999) / 1000);
    if (*retry_after < 1)
        *retry_after = 1;
    return CHAT_ERR_RATE;
}

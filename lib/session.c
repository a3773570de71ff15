#include "session.h"

#include <sodium.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "keys.h"
#include "xmalloc.h"

/* Hex of the token's hash: the only form of a token Redis ever sees. */
static int session_hash(const char *token, char out[65])
{
    unsigned char h[32];
    size_t n = strlen(token);

    if (n != SESSION_TOKEN_LEN)
        return CHAT_ERR_UNAUTH;
    for (size_t i = 0; i < n; i++)
        if (!((token[i] >= '0' && token[i] <= '9') || (token[i] >= 'a' && token[i] <= 'f')))
            return CHAT_ERR_UNAUTH;
    crypto_generichash(h, sizeof(h), (const unsigned char *)token, n, NULL, 0);
    sodium_bin2hex(out, 65, h, sizeof(h));
    return 0;
}

int session_key(const char *prefix, const char *token, char out[KEY_MAX])
{
    char h[65];
    int rc;

    if ((rc = session_hash(token, h)) < 0)
        return rc;
    keys_session(out, prefix, h);
    return 0;
}

/* Reads n pipelined replies, keeping the first error. */
static int session_drain(struct rdb *db, int n)
{
    redisReply *rep;
    int rc = 0, r;

    while (n-- > 0) {
        r = rdb_next(db, &rep);
        if (r < 0 && rc == 0)
            rc = r;
        if (rep)
            freeReplyObject(rep);
    }
    return rc;
}

/* Drops the index entries of sessions that expired. */
static int session_prune(struct rdb *db, const char *ukey)
{
    char skey[KEY_MAX];
    redisReply *all = NULL;
    unsigned char *dead = NULL;
    int rc, n = 0;

    if ((rc = rdb_cmd(db, &all, "SMEMBERS %s", ukey)) < 0)
        return rc;
    dead = xcalloc(all->elements + 1, 1);
    for (size_t i = 0; i < all->elements && rc == 0; i++) {
        keys_session(skey, db->cfg->key_prefix, all->element[i]->str);
        if ((rc = rdb_append(db, "EXISTS %s", skey)) == 0)
            n++;
    }
    for (int i = 0; i < n; i++) {
        redisReply *e = NULL;
        int r = rdb_next(db, &e);
        if (r < 0 && rc == 0)
            rc = r;
        dead[i] = r == 0 && rdb_int(e) == 0;
        if (e)
            freeReplyObject(e);
    }
    for (size_t i = 0; i < all->elements && rc == 0; i++) {
        redisReply *x = NULL;
        if (dead[i] && (rc = rdb_cmd(db, &x, "SREM %s %s", ukey, all->element[i]->str)) == 0)
            freeReplyObject(x);
    }
    free(dead);
    freeReplyObject(all);
    return rc;
}

int session_create(struct rdb *db, const struct user_id *id, char token[SESSION_TOKEN_LEN + 1])
{
    const struct chat_config *cfg = db->cfg;
    unsigned char raw[SESSION_TOKEN_LEN / 2];
    char h[65], skey[KEY_MAX], ukey[KEY_MAX];
    int rc;

    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(token, SESSION_TOKEN_LEN + 1, raw, sizeof(raw));
    session_hash(token, h);
    keys_session(skey, cfg->key_prefix, h);
    keys_user_sessions(ukey, cfg->key_prefix, id->lname);
    /* One round trip, applied all or nothing. The index has no TTL of its
     * own (a session in use outlives any fixed one); expired sessions
     * are pruned from it here instead. */
    if ((rc = session_prune(db, ukey)) < 0)
        return rc;
    if ((rc = rdb_append(db, "MULTI")) < 0 ||
        (rc = rdb_append(db, "HSET %s user %s created %lld", skey, id->name, clock_now_ms())) < 0 ||
        (rc = rdb_append(db, "EXPIRE %s %d", skey, cfg->session_ttl)) < 0 ||
        (rc = rdb_append(db, "SADD %s %s", ukey, h)) < 0 ||
        (rc = rdb_append(db, "EXEC")) < 0)
        return rc;
    return session_drain(db, 5);
}

int session_lookup(struct rdb *db, const char *token, struct user_id *id)
{
    char skey[KEY_MAX];
    redisReply *user = NULL, *ttl = NULL;
    int rc;

    if ((rc = session_key(db->cfg->key_prefix, token, skey)) < 0)
        return rc;
    /* Lookup and refresh in one round trip; EXPIRE of a missing key is a
     * no-op. */
    if ((rc = rdb_append(db, "HGET %s user", skey)) < 0 ||
        (rc = rdb_append(db, "EXPIRE %s %d", skey, db->cfg->session_ttl)) < 0)
        return rc;
    rc = rdb_next(db, &user);
    if (rdb_next(db, &ttl) < 0 && rc == 0)
        rc = CHAT_ERR_UNAVAILABLE;
    if (rc == 0) {
        if (user->type != REDIS_REPLY_STRING || user_id_set(id, user->str) < 0)
            rc = CHAT_ERR_UNAUTH;
    }
    if (user)
        freeReplyObject(user);
    if (ttl)
        freeReplyObject(ttl);
    return rc;
}

int session_delete(struct rdb *db, const char *token)
{
    char h[65], skey[KEY_MAX], ukey[KEY_MAX], chan[KEY_MAX];
    struct user_id id;
    int rc;

    if ((rc = session_hash(token, h)) < 0)
        return rc;
    if ((rc = session_lookup(db, token, &id)) < 0)
        return rc;
    keys_session(skey, db->cfg->key_prefix, h);
    keys_user_sessions(ukey, db->cfg->key_prefix, id.lname);
    session_logout_channel(db->cfg->key_prefix, chan);
    if ((rc = rdb_append(db, "DEL %s", skey)) < 0 ||
        (rc = rdb_append(db, "SREM %s %s", ukey, h)) < 0 ||
        (rc = rdb_append(db, "PUBLISH %s %s", chan, skey)) < 0)
        return rc;
    return session_drain(db, 3);
}

void session_logout_channel(const char *prefix, char out[KEY_MAX])
{
    snprintf(out, KEY_MAX, "%slogout", prefix);
}

int session_delete_all(struct rdb *db, const struct user_id *id)
{
    char skey[KEY_MAX], ukey[KEY_MAX], chan[KEY_MAX];
    redisReply *all = NULL;
    int rc, r, n = 0;

    keys_user_sessions(ukey, db->cfg->key_prefix, id->lname);
    session_logout_channel(db->cfg->key_prefix, chan);
    if ((rc = rdb_cmd(db, &all, "SMEMBERS %s", ukey)) < 0)
        return rc;
    for (size_t i = 0; i < all->elements && rc == 0; i++) {
        keys_session(skey, db->cfg->key_prefix, all->element[i]->str);
        if ((rc = rdb_append(db, "DEL %s", skey)) == 0 &&
            (rc = rdb_append(db, "PUBLISH %s %s", chan, skey)) == 0)
            n += 2;
    }
    if (rc == 0 && (rc = rdb_append(db, "DEL %s", ukey)) == 0)
        n++;
    freeReplyObject(all);
    r = session_drain(db, n);
    return rc < 0 ? rc : r;
}

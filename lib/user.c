#include "user.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "keys.h"
#include "log.h"
#include "session.h"

int user_id_set(struct user_id *id, const char *name)
{
    if (valid_name_lower(id->lname, name) < 0)
        return CHAT_ERR_INVALID;
    snprintf(id->name, sizeof(id->name), "%s", name);
    return 0;
}

static int user_password_ok(const char *pw)
{
    size_t n = strlen(pw);
    return n >= PASSWORD_MIN && n <= PASSWORD_MAX && valid_utf8(pw, n);
}

int user_create(struct rdb *db, const char *name, const char *password)
{
    const struct chat_config *cfg = db->cfg;
    char ukey[KEY_MAX], ukeys[KEY_MAX], hash[crypto_pwhash_STRBYTES];
    struct user_id id;
    struct rdb_args a;
    redisReply *rep = NULL;
    int rc;

    if (user_id_set(&id, name) < 0 || !user_password_ok(password))
        return CHAT_ERR_INVALID;
    if (crypto_pwhash_str(hash, password, strlen(password),
                          (unsigned long long)cfg->pw_opslimit,
                          (size_t)cfg->pw_memlimit_kib * 1024) != 0) {
        log_error("user", "event=pwhash_failed user=%s", id.name);
        return CHAT_ERR_INTERNAL;
    }
    keys_user(ukey, cfg->key_prefix, id.lname);
    keys_users(ukeys, cfg->key_prefix);
    rdb_args_init(&a);
    rdb_args_str(&a, ukey);
    rdb_args_str(&a, ukeys);
    rdb_args_str(&a, id.name);
    rdb_args_str(&a, id.lname);
    rdb_args_str(&a, hash);
    rdb_args_int(&a, clock_now_ms());
    if ((rc = rdb_script(db, &rep, SCRIPT_REGISTER, 2, 4, a.argv)) < 0)
        return rc;
    rc = rdb_int(rep) == 1 ? 0 : CHAT_ERR_CONFLICT;
    freeReplyObject(rep);
    return rc;
}

/* A valid hash of a random password: verifying against it costs what a
 * real check costs, so unknown names answer as slowly as known ones.
 * Made once per process; NULL if hashing failed. */
static const char *user_dummy_hash(const struct chat_config *cfg)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static char dummy[crypto_pwhash_STRBYTES];
    static int state; /* 0 not made, 1 made, -1 failed */
    char rnd[33];
    unsigned char raw[16];

    pthread_mutex_lock(&lock);
    if (state == 0) {
        randombytes_buf(raw, sizeof(raw));
        sodium_bin2hex(rnd, sizeof(rnd), raw, sizeof(raw));
        state = crypto_pwhash_str(dummy, rnd, strlen(rnd), (unsigned long long)cfg->pw_opslimit,
                                  (size_t)cfg->pw_memlimit_kib * 1024) == 0 ? 1 : -1;
    }
    pthread_mutex_unlock(&lock);
    return state == 1 ? dummy : NULL;
}

int user_verify(struct rdb *db, const char *name, const char *password, struct user_id *id)
{
    const struct chat_config *cfg = db->cfg;
    char ukey[KEY_MAX];
    redisReply *rep = NULL;
    const redisReply *n, *pw;
    int rc;

    if (user_id_set(id, name) < 0 || strlen(password) > PASSWORD_MAX)
        return CHAT_ERR_UNAUTH;
    keys_user(ukey, cfg->key_prefix, id->lname);
    if ((rc = rdb_cmd(db, &rep, "HMGET %s name pw", ukey)) < 0)
        return rc;
    n = rdb_elem(rep, 0);
    pw = rdb_elem(rep, 1);
    if (!n || n->type != REDIS_REPLY_STRING || !pw || pw->type != REDIS_REPLY_STRING) {
        const char *dummy = user_dummy_hash(cfg);
        /* The result is meaningless; only the time it takes matters. */
        if (dummy && crypto_pwhash_str_verify(dummy, password, strlen(password)) == 0)
            log_debug("user", "event=dummy_hash_matched");
        freeReplyObject(rep);
        return CHAT_ERR_UNAUTH;
    }
    rc = crypto_pwhash_str_verify(pw->str, password, strlen(password)) == 0 ? 0 : CHAT_ERR_UNAUTH;
    if (rc == 0)
        snprintf(id->name, sizeof(id->name), "%s", n->str);
    freeReplyObject(rep);
    return rc;
}

int user_lookup(struct rdb *db, const char *name, struct user_id *id)
{
    char ukey[KEY_MAX];
    redisReply *rep = NULL;
    int rc;

    if (user_id_set(id, name) < 0)
        return CHAT_ERR_INVALID;
    keys_user(ukey, db->cfg->key_prefix, id->lname);
    if ((rc = rdb_cmd(db, &rep, "HGET %s name", ukey)) < 0)
        return rc;
    if (rep->type != REDIS_REPLY_STRING) {
        rc = CHAT_ERR_NOTFOUND;
    } else {
        snprintf(id->name, sizeof(id->name), "%s", rep->str);
        rc = 0;
    }
    freeReplyObject(rep);
    return rc;
}

/* A later account with the same name must not read this one's direct
 * messages: the clear marks (kept) start every DM pair of the name after
 * what exists now, as a one-sided delete would. */
static int user_tombstone(struct rdb *db, const struct user_id *id)
{
    const char *p = db->cfg->key_prefix;
    char k[KEY_MAX], clear[KEY_MAX], chan[CHAN_MAX], lpeer[NAME_MAX_LEN + 1];
    redisReply *peers = NULL, *rep = NULL;
    int rc;

    keys_conv(k, p, id->lname);
    keys_clear(clear, p, id->lname);
    if ((rc = rdb_cmd(db, &peers, "ZRANGE %s 0 -1", k)) < 0)
        return rc;
    for (size_t i = 0; i < peers->elements && rc == 0; i++) {
        if (valid_name_lower(lpeer, peers->element[i]->str) < 0)
            continue;
        keys_chan_dm(chan, id->lname, lpeer);
        keys_meta(k, p, chan);
        if ((rc = rdb_cmd(db, &rep, "HGET %s seq", k)) < 0)
            break;
        {
            long long seq = rdb_int(rep);
            freeReplyObject(rep);
            if ((rc = rdb_cmd(db, &rep, "HSET %s %s %lld", clear, lpeer, seq)) == 0)
                freeReplyObject(rep);
        }
    }
    freeReplyObject(peers);
    return rc;
}

int user_delete(struct rdb *db, const char *name)
{
    const char *prefix = db->cfg->key_prefix;
    char k[KEY_MAX], rooms_key[KEY_MAX], sess_key[KEY_MAX], lroom[NAME_MAX_LEN + 1];
    char inbox[CHAN_MAX], inbox_list[KEY_MAX], inbox_meta[KEY_MAX];
    char conv[KEY_MAX], unread[KEY_MAX], marks[KEY_MAX];
    struct user_id id;
    redisReply *rooms = NULL, *rep = NULL;
    int rc;

    if ((rc = user_lookup(db, name, &id)) < 0)
        return rc;
    if ((rc = session_delete_all(db, &id)) < 0)
        return rc;
    keys_user_rooms(rooms_key, prefix, id.lname);
    keys_user_sessions(sess_key, prefix, id.lname);
    if ((rc = rdb_cmd(db, &rooms, "SMEMBERS %s", rooms_key)) < 0)
        goto out;
    for (size_t i = 0; i < rooms->elements; i++) {
        if (valid_name_lower(lroom, rooms->element[i]->str) < 0)
            continue;
        keys_members(k, prefix, lroom);
        if ((rc = rdb_cmd(db, &rep, "SREM %s %s", k, id.name)) < 0)
            goto out;
        freeReplyObject(rep);
    }
    if ((rc = user_tombstone(db, &id)) < 0)
        goto out;
    keys_chan_inbox(inbox, id.lname);
    keys_chan(inbox_list, prefix, inbox);
    keys_meta(inbox_meta, prefix, inbox);
    keys_conv(conv, prefix, id.lname);
    keys_unread(unread, prefix, id.lname);
    keys_readmark(marks, prefix, id.lname);
    keys_user(k, prefix, id.lname);
    if ((rc = rdb_cmd(db, &rep, "DEL %s %s %s %s %s %s %s %s", k, rooms_key, sess_key, inbox_list,
                      inbox_meta, conv, unread, marks)) < 0)
        goto out;
    freeReplyObject(rep);
    keys_users(k, prefix);
    if ((rc = rdb_cmd(db, &rep, "SREM %s %s", k, id.lname)) < 0)
        goto out;
    freeReplyObject(rep);
    rc = 0;
out:
    if (rooms)
        freeReplyObject(rooms);
    return rc;
}

int user_list(struct rdb *db, void (*fn)(const char *name, void *arg), void *arg)
{
    char k[KEY_MAX];
    redisReply *all = NULL, *rep = NULL;
    int rc;

    keys_users(k, db->cfg->key_prefix);
    if ((rc = rdb_cmd(db, &all, "SMEMBERS %s", k)) < 0)
        return rc;
    for (size_t i = 0; i < all->elements; i++) {
        keys_user(k, db->cfg->key_prefix, all->element[i]->str);
        if ((rc = rdb_cmd(db, &rep, "HGET %s name", k)) < 0)
            break;
        if (rep->type == REDIS_REPLY_STRING)
            fn(rep->str, arg);
        freeReplyObject(rep);
    }
    freeReplyObject(all);
    return rc;
}

#include "rdb.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "err.h"
#include "log.h"

void rdb_init(struct rdb *db, const struct chat_config *cfg)
{
    memset(db, 0, sizeof(*db));
    db->cfg = cfg;
}

void rdb_close(struct rdb *db)
{
    if (db->ctx)
        redisFree(db->ctx);
    db->ctx = NULL;
    db->pending = 0;
}

/* Drops the connection after an I/O error: hiredis marks the context
 * unusable, and the next call starts over. */
static int rdb_fail(struct rdb *db, const char *what)
{
    log_error("rdb", "event=redis_error op=%s err=\"%s\"", what,
              db->ctx && db->ctx->errstr[0] ? db->ctx->errstr : "connection lost");
    rdb_close(db);
    return CHAT_ERR_UNAVAILABLE;
}

/* A connection whose server went away (restart, failover) reads EOF;
 * noticing it before sending means the request that follows a Redis
 * restart succeeds instead of failing once on the stale socket. */
static int rdb_alive(const struct rdb *db)
{
    char c;
    ssize_t n;

    if (db->pending > 0)
        return 1;
    n = recv(db->ctx->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR));
}

static int rdb_connect(struct rdb *db)
{
    const struct chat_config *cfg = db->cfg;
    struct timeval tv = { cfg->redis_timeout_ms / 1000, (cfg->redis_timeout_ms % 1000) * 1000 };
    redisReply *r = NULL;

    if (db->ctx) {
        if (rdb_alive(db))
            return 0;
        log_info("rdb", "event=redis_reconnect reason=closed_by_server");
        rdb_close(db);
    }
    if (cfg->redis_socket && cfg->redis_socket[0])
        db->ctx = redisConnectUnixWithTimeout(cfg->redis_socket, tv);
    else
        db->ctx = redisConnectWithTimeout(cfg->redis_host, cfg->redis_port, tv);
    if (!db->ctx) {
        log_error("rdb", "event=redis_connect err=\"out of memory\"");
        return CHAT_ERR_UNAVAILABLE;
    }
    if (db->ctx->err)
        return rdb_fail(db, "connect");
    if (redisSetTimeout(db->ctx, tv) != REDIS_OK)
        return rdb_fail(db, "set_timeout");
    if (cfg->redis_password && cfg->redis_password[0]) {
        r = redisCommand(db->ctx, "AUTH %s", cfg->redis_password);
        if (!r)
            return rdb_fail(db, "auth");
        if (r->type == REDIS_REPLY_ERROR) {
            log_error("rdb", "event=redis_auth err=\"%s\"", r->str);
            freeReplyObject(r);
            rdb_close(db);
            return CHAT_ERR_UNAVAILABLE;
        }
        freeReplyObject(r);
    }
    if (cfg->redis_db != 0) {
        r = redisCommand(db->ctx, "SELECT %d", cfg->redis_db);
        if (!r)
            return rdb_fail(db, "select");
        freeReplyObject(r);
    }
    return 0;
}

/* Turns a raw hiredis result into the module's contract. */
static int rdb_result(struct rdb *db, redisReply *r, redisReply **out, const char *what)
{
    *out = NULL;
    if (!r)
        return rdb_fail(db, what);
    if (r->type == REDIS_REPLY_ERROR) {
        log_error("rdb", "event=redis_reply_error op=%s err=\"%s\"", what, r->str);
        freeReplyObject(r);
        return CHAT_ERR_INTERNAL;
    }
    *out = r;
    return 0;
}

int rdb_cmd(struct rdb *db, redisReply **out, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;
    int rc;

    *out = NULL;
    if ((rc = rdb_connect(db)) < 0)
        return rc;
    va_start(ap, fmt);
    r = redisvCommand(db->ctx, fmt, ap);
    va_end(ap);
    return rdb_result(db, r, out, "command");
}

int rdb_argv(struct rdb *db, redisReply **out, int argc, const char **argv,
             const size_t *lens)
{
    int rc;

    *out = NULL;
    if ((rc = rdb_connect(db)) < 0)
        return rc;
    return rdb_result(db, redisCommandArgv(db->ctx, argc, argv, lens), out, argv[0]);
}

int rdb_script(struct rdb *db, redisReply **out, enum script_id id,
               int nkeys, int nargs, const char *const *argv)
{
    const char *cmd[SCRIPT_MAX_ARGS + 3];
    char nk[16];
    redisReply *r = NULL, *load = NULL;
    int rc, n;

    *out = NULL;
    if ((n = script_evalsha_argv(id, nkeys, nargs, argv, cmd, nk)) < 0)
        return CHAT_ERR_INTERNAL;
    if ((rc = rdb_connect(db)) < 0)
        return rc;

    r = redisCommandArgv(db->ctx, n, cmd, NULL);
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        /* Redis restarted or flushed its script cache: load and retry once. */
        freeReplyObject(r);
        load = redisCommand(db->ctx, "SCRIPT LOAD %s", script_source(id));
        if ((rc = rdb_result(db, load, &load, "script_load")) < 0)
            return rc;
        freeReplyObject(load);
        r = redisCommandArgv(db->ctx, n, cmd, NULL);
    }
    if (r && r->type == REDIS_REPLY_ERROR) {
        log_error("rdb", "event=script_error script=%s err=\"%s\"", script_name(id), r->str);
        freeReplyObject(r);
        return CHAT_ERR_INTERNAL;
    }
    return rdb_result(db, r, out, script_name(id));
}

int rdb_append(struct rdb *db, const char *fmt, ...)
{
    va_list ap;
    int rc;

    if ((rc = rdb_connect(db)) < 0)
        return rc;
    va_start(ap, fmt);
    rc = redisvAppendCommand(db->ctx, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK)
        return rdb_fail(db, "append");
    db->pending++;
    return 0;
}

int rdb_next(struct rdb *db, redisReply **out)
{
    void *r = NULL;

    *out = NULL;
    if (!db->ctx || db->pending <= 0)
        return CHAT_ERR_UNAVAILABLE;
    db->pending--;
    if (redisGetReply(db->ctx, &r) != REDIS_OK)
        return rdb_fail(db, "pipeline");
    return rdb_result(db, r, out, "pipeline");
}

long long rdb_int(const redisReply *r)
{
    if (!r)
        return 0;
    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    if (r->type == REDIS_REPLY_STRING)
        return strtoll(r->str, NULL, 10);
    return 0;
}

const redisReply *rdb_elem(const redisReply *r, size_t i)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || i >= r->elements)
        return NULL;
    return r->element[i];
}

void rdb_args_init(struct rdb_args *a)
{
    a->n = 0;
}

static void rdb_args_check(const struct rdb_args *a)
{
    if (a->n >= RDB_MAX_SCRIPT_ARGS) {
        log_error("rdb", "event=too_many_script_args");
        abort();
    }
}

void rdb_args_str(struct rdb_args *a, const char *s)
{
    rdb_args_check(a);
    a->argv[a->n++] = s;
}

void rdb_args_int(struct rdb_args *a, long long v)
{
    rdb_args_check(a);
    snprintf(a->num[a->n], sizeof(a->num[a->n]), "%lld", v);
    a->argv[a->n] = a->num[a->n];
    a->n++;
}

#include "ardb.h"

#include <hiredis/adapters/libevent.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "rdb.h"
#include "xmalloc.h"

#define ARDB_BACKOFF_MIN_MS 100
#define ARDB_BACKOFF_MAX_MS 5000

struct ardb {
    struct event_base *base;
    const struct chat_config *cfg;
    const char *name;
    int subscriber;
    ardb_state_fn on_state;
    void *arg;
    redisAsyncContext *ac;       /* NULL while disconnected */
    int up;                      /* connected and scripts loaded */
    int freeing;
    int backoff_ms;
    unsigned long reconnects;
    struct event *retry;         /* reconnect timer */
};

/* A callback trampoline: turns error replies into NULL, once, logged. */
struct ardb_call {
    struct ardb *a;
    ardb_reply_fn cb;
    void *arg;
};

static void ardb_connect(struct ardb *a);

static void ardb_set_up(struct ardb *a, int up)
{
    if (a->up == up)
        return;
    a->up = up;
    if (a->on_state && !a->freeing)
        a->on_state(a, up, a->arg);
}

static void ardb_schedule_retry(struct ardb *a)
{
    struct timeval tv;
    int jitter;

    if (a->freeing)
        return;
    /* Jitter spreads the reconnects of many processes after a restart. */
    jitter = (int)randombytes_uniform((uint32_t)(a->backoff_ms / 4 + 1));
    tv.tv_sec = (a->backoff_ms + jitter) / 1000;
    tv.tv_usec = ((a->backoff_ms + jitter) % 1000) * 1000;
    evtimer_add(a->retry, &tv);
    a->backoff_ms = a->backoff_ms * 2 > ARDB_BACKOFF_MAX_MS ? ARDB_BACKOFF_MAX_MS : a->backoff_ms * 2;
}

static void ardb_on_disconnect(const redisAsyncContext *ac, int status)
{
    struct ardb *a = ac->data;

    /* hiredis frees ac after this returns. */
    a->ac = NULL;
    if (!a->freeing)
        log_warn("ardb", "event=redis_disconnected conn=%s err=\"%s\"", a->name,
                 status == REDIS_OK ? "closed" : ac->errstr);
    ardb_set_up(a, 0);
    ardb_schedule_retry(a);
}

/* The last reply of the setup sequence: from here on commands succeed. */
static void ardb_on_ready(redisAsyncContext *ac, void *r, void *priv)
{
    struct ardb *a = priv;
    redisReply *reply = r;

    if (!reply || a->freeing)
        return;
    if (reply->type == REDIS_REPLY_ERROR) {
        log_error("ardb", "event=redis_setup_failed conn=%s err=\"%s\"", a->name, reply->str);
        redisAsyncDisconnect(ac);
        return;
    }
    a->backoff_ms = ARDB_BACKOFF_MIN_MS;
    log_info("ardb", "event=redis_ready conn=%s", a->name);
    ardb_set_up(a, 1);
}

/* Replies of setup steps whose only interesting outcome is an error. */
static void ardb_on_setup_step(redisAsyncContext *ac, void *r, void *priv)
{
    struct ardb *a = priv;
    redisReply *reply = r;

    if (reply && reply->type == REDIS_REPLY_ERROR && !a->freeing) {
        log_error("ardb", "event=redis_setup_failed conn=%s err=\"%s\"", a->name, reply->str);
        redisAsyncDisconnect(ac);
    }
}

static void ardb_on_connect(const redisAsyncContext *cac, int status)
{
    struct ardb *a = cac->data;
    redisAsyncContext *ac = (redisAsyncContext *)cac;

    if (status != REDIS_OK) {
        /* hiredis frees ac after a failed connect. */
        a->ac = NULL;
        log_debug("ardb", "event=redis_connect_failed conn=%s err=\"%s\"", a->name, cac->errstr);
        ardb_schedule_retry(a);
        return;
    }
    if (a->cfg->redis_password && a->cfg->redis_password[0])
        redisAsyncCommand(ac, ardb_on_setup_step, a, "AUTH %s", a->cfg->redis_password);
    if (a->cfg->redis_db != 0 && !a->subscriber)
        redisAsyncCommand(ac, ardb_on_setup_step, a, "SELECT %d", a->cfg->redis_db);
    if (!a->subscriber)
        for (int i = 0; i < SCRIPT_COUNT; i++)
            redisAsyncCommand(ac, ardb_on_setup_step, a, "SCRIPT LOAD %s", script_source((enum script_id)i));
    /* Redis answers in order, so this PING's reply means every step above
     * is done. */
    redisAsyncCommand(ac, ardb_on_ready, a, "PING");
}

static void ardb_connect(struct ardb *a)
{
    const struct chat_config *cfg = a->cfg;
    redisAsyncContext *ac;

    if (cfg->redis_socket && cfg->redis_socket[0])
        ac = redisAsyncConnectUnix(cfg->redis_socket);
    else
        ac = redisAsyncConnect(cfg->redis_host, cfg->redis_port);
    if (!ac || ac->err) {
        log_debug("ardb", "event=redis_connect_failed conn=%s err=\"%s\"", a->name,
                  ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        ardb_schedule_retry(a);
        return;
    }
    ac->data = a;
    a->ac = ac;
    redisLibeventAttach(ac, a->base);
    redisAsyncSetConnectCallback(ac, ardb_on_connect);
    redisAsyncSetDisconnectCallback(ac, ardb_on_disconnect);
}

static void ardb_on_retry(evutil_socket_t fd, short what, void *arg)
{
    struct ardb *a = arg;

    (void)fd;
    (void)what;
    a->reconnects++;
    ardb_connect(a);
}

int ardb_new(struct ardb **out, struct event_base *base, const struct chat_config *cfg,
             const char *name, int subscriber, ardb_state_fn on_state, void *arg)
{
    struct ardb *a = xcalloc(1, sizeof(*a));

    a->base = base;
    a->cfg = cfg;
    a->name = name;
    a->subscriber = subscriber;
    a->on_state = on_state;
    a->arg = arg;
    a->backoff_ms = ARDB_BACKOFF_MIN_MS;
    a->retry = evtimer_new(base, ardb_on_retry, a);
    ardb_connect(a);
    *out = a;
    return 0;
}

void ardb_free(struct ardb *a)
{
    if (!a)
        return;
    a->freeing = 1;
    if (a->ac)
        redisAsyncFree(a->ac);
    if (a->retry)
        event_free(a->retry);
    free(a);
}

int ardb_is_up(const struct ardb *a)
{
    return a->up;
}

unsigned long ardb_reconnects(const struct ardb *a)
{
    return a->reconnects;
}

static void ardb_on_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct ardb_call *c = priv;
    redisReply *reply = r;

    (void)ac;
    if (reply && reply->type == REDIS_REPLY_ERROR) {
        log_error("ardb", "event=redis_reply_error conn=%s err=\"%s\"", c->a->name, reply->str);
        reply = NULL;
    }
    if (c->cb)
        c->cb(c->a, reply, c->arg);
    free(c);
}

static struct ardb_call *ardb_call_new(struct ardb *a, ardb_reply_fn cb, void *arg)
{
    struct ardb_call *c = xmalloc(sizeof(*c));
    c->a = a;
    c->cb = cb;
    c->arg = arg;
    return c;
}

int ardb_cmd(struct ardb *a, ardb_reply_fn cb, void *arg, const char *fmt, ...)
{
    struct ardb_call *c;
    va_list ap;
    int rc;

    if (!a->up || !a->ac)
        return CHAT_ERR_UNAVAILABLE;
    c = ardb_call_new(a, cb, arg);
    va_start(ap, fmt);
    rc = redisvAsyncCommand(a->ac, ardb_on_reply, c, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK) {
        free(c);
        return CHAT_ERR_UNAVAILABLE;
    }
    return 0;
}

int ardb_argv(struct ardb *a, ardb_reply_fn cb, void *arg, int argc, const char **argv,
              const size_t *lens)
{
    struct ardb_call *c;

    if (!a->up || !a->ac)
        return CHAT_ERR_UNAVAILABLE;
    c = ardb_call_new(a, cb, arg);
    if (redisAsyncCommandArgv(a->ac, ardb_on_reply, c, argc, argv, lens) != REDIS_OK) {
        free(c);
        return CHAT_ERR_UNAVAILABLE;
    }
    return 0;
}

int ardb_script(struct ardb *a, ardb_reply_fn cb, void *arg, enum script_id id, int nkeys,
                int nargs, const char *const *argv)
{
    const char *cmd[SCRIPT_MAX_ARGS + 3];
    char nk[16];
    int n = script_evalsha_argv(id, nkeys, nargs, argv, cmd, nk);

    if (n < 0)
        return CHAT_ERR_INTERNAL;
    return ardb_argv(a, cb, arg, n, cmd, NULL);
}

/* Subscription callbacks stay registered in hiredis for every message,
 * so they are not wrapped (no per-call allocation). */
int ardb_subscribe(struct ardb *a, redisCallbackFn *cb, void *arg, const char *channel)
{
    if (!a->up || !a->ac)
        return CHAT_ERR_UNAVAILABLE;
    if (redisAsyncCommand(a->ac, cb, arg, "SUBSCRIBE %s", channel) != REDIS_OK)
        return CHAT_ERR_UNAVAILABLE;
    return 0;
}

int ardb_unsubscribe(struct ardb *a, const char *channel)
{
    if (!a->up || !a->ac)
        return CHAT_ERR_UNAVAILABLE;
    if (redisAsyncCommand(a->ac, NULL, NULL, "UNSUBSCRIBE %s", channel) != REDIS_OK)
        return CHAT_ERR_UNAVAILABLE;
    return 0;
}

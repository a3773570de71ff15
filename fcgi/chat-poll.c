/* chat-poll — GET /api/poll (plain poll and long-poll) and GET
 * /api/stream (Server-Sent Events). One accept thread, one libevent loop:
 * a waiting request costs a small struct and its hub subscription, no
 * thread and no Redis connection (see lib/park.h and lib/hub.h). A
 * logout (chat-auth publishes the session's key) ends the session's
 * open requests. */
#include <event2/thread.h>
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fcgisrv.h"
#include "keys.h"
#include "log.h"
#include "params.h"
#include "poll.h"
#include "req.h"
#include "session.h"
#include "xmalloc.h"

/* Output a stream may leave unsent before it counts as a slow consumer. */
#define POLL_MAX_OUT (1024 * 1024)

static void poll_reply_error(struct park_req *pr, int err, const char *message)
{
    int status = err_http_status(err);
    char *body = req_error_body(err, message);

    park_printf(pr, "Status: %d %s\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
                    "X-Content-Type-Options: nosniff\r\n%s\r\n%s",
                status, req_reason(status),
                err == CHAT_ERR_UNAVAILABLE || err == CHAT_ERR_RATE ? "Retry-After: 1\r\n" : "", body);
    free(body);
    park_end(pr);
    log_info("poll", "event=reject status=%d code=%s msg=\"%s\"", status, err_code(err), message);
}

void poll_finish(struct poll_req *p)
{
    struct poll_srv *srv = p->srv;

    if (p->prev)
        p->prev->next = p->next;
    else
        srv->reqs = p->next;
    if (p->next)
        p->next->prev = p->prev;

    if (p->sub) {
        hub_sub_close(p->sub);
        p->sub = NULL;
        if (p->stream)
            srv->streams--;
        else
            srv->longpolls--;
    }
    if (p->online)
        online_remove(srv->online, &p->me);
    if (p->timer)
        event_free(p->timer);
    if (p->stall)
        event_free(p->stall);
    if (p->events)
        evbuffer_free(p->events);
    if (p->pr)
        park_end(p->pr);
    free(p->cursor);
    free(p);
}

void poll_fail(struct poll_req *p, int err, const char *message)
{
    if (p->pr && !p->head_sent) {
        poll_reply_error(p->pr, err, message);
        p->pr = NULL;
    }
    poll_finish(p);
}

/* The client went away while waiting: free everything now. */
static void poll_on_gone(struct park_req *pr, void *arg)
{
    (void)pr;
    poll_finish(arg);
}

/* The session lookup answered: start following. */
static void poll_on_session(struct ardb *a, redisReply *reply, void *arg)
{
    struct poll_req *p = arg;
    struct poll_srv *srv = p->srv;
    int rc;

    (void)a;
    if (!p->pr) {            /* gone while we asked */
        poll_finish(p);
        return;
    }
    park_on_gone(p->pr, poll_on_gone, p);
    if (!reply)
        return poll_fail(p, CHAT_ERR_UNAVAILABLE, "try again shortly");
    if (reply->type != REDIS_REPLY_STRING || user_id_set(&p->me, reply->str) < 0)
        return poll_fail(p, CHAT_ERR_UNAUTH, "not signed in");
    if (p->signed_out) {
        /* Looked up just before its logout, whose notice came first. */
        srv->logout_closes++;
        log_info("poll", "event=session_ended user=%s", p->me.name);
        return poll_fail(p, CHAT_ERR_UNAUTH, "signed out");
    }
    rc = hub_sub_start(srv->hub, &p->me, p->cursor, p->stream ? &poll_sse_ops : &poll_longpoll_ops,
                       p, &p->sub);
    if (rc < 0)
        return poll_fail(p, rc, rc == CHAT_ERR_INVALID ? "bad cursor" : "try again shortly");
    free(p->cursor);
    p->cursor = NULL;
    online_add(srv->online, &p->me);
    p->online = 1;
    if (p->stream)
        poll_sse_start(p);
    else
        poll_longpoll_start(p);
}

/* Gone before the session lookup answered: the reply callback frees. */
static void poll_on_gone_early(struct park_req *pr, void *arg)
{
    struct poll_req *p = arg;

    (void)pr;
    park_end(p->pr);
    p->pr = NULL;
}

/* Ends a request whose session was deleted (PROTOCOL.md: logout closes
 * the session's connections): a long-poll still without headers gets the
 * 401 now, a parked one its answer (its next poll is then refused), a
 * stream ends (the EventSource's reconnect is refused). */
static void poll_sign_out(struct poll_req *p)
{
    struct poll_srv *srv = p->srv;

    if (!p->sub) {
        /* Its session lookup is in flight (or it left meanwhile): refused
         * when the lookup answers. */
        p->signed_out = 1;
        return;
    }
    srv->logout_closes++;
    log_info("poll", "event=session_ended user=%s", p->me.name);
    if (!p->head_sent)
        poll_fail(p, CHAT_ERR_UNAUTH, "signed out");
    else if (p->stream)
        poll_finish(p);
    else
        poll_longpoll_end(p);
}

/* Every request of the session skey: a few per user, so a walk of the
 * list per logout (logouts are rare next to events). */
static void poll_logout(struct poll_srv *srv, const char *skey)
{
    /* next is taken first: signing out frees the request. */
    for (struct poll_req *p = srv->reqs, *next; p; p = next) {
        next = p->next;
        if (strcmp(p->skey, skey) == 0)
            poll_sign_out(p);
    }
}

/* A session re-check: the session key follows the struct. */
struct poll_check {
    struct poll_srv *srv;
    char skey[];
};

static void poll_on_check(struct ardb *a, redisReply *reply, void *arg)
{
    struct poll_check *c = arg;

    (void)a;
    if (reply && reply->type == REDIS_REPLY_INTEGER && reply->integer == 0)
        poll_logout(c->srv, c->skey);
    free(c);
}

/* Logouts published while the subscription was down were not heard: ask
 * whether each open request's session still exists. Waits for the
 * command connection, which comes back on its own schedule. */
static void poll_on_recheck(evutil_socket_t fd, short what, void *arg)
{
    struct timeval again = { 0, 250 * 1000 };
    struct poll_srv *srv = arg;

    (void)fd;
    (void)what;
    for (struct poll_req *p = srv->reqs; p; p = p->next) {
        size_t n = strlen(p->skey) + 1;
        struct poll_check *c = xmalloc(sizeof(*c) + n);

        c->srv = srv;
        memcpy(c->skey, p->skey, n);
        if (ardb_cmd(hub_ardb(srv->hub), poll_on_check, c, "EXISTS %s", c->skey) < 0) {
            free(c);
            evtimer_add(srv->recheck, &again);   /* all again once Redis is back */
            return;
        }
    }
}

/* Logouts published by chat-auth (the payload is the session's key), and
 * the confirmation of our subscription. */
static void poll_on_logout(redisAsyncContext *ac, void *r, void *priv)
{
    struct poll_srv *srv = priv;
    redisReply *reply = r;
    const char *kind;

    (void)ac;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 ||
        reply->element[0]->type != REDIS_REPLY_STRING)
        return;
    kind = reply->element[0]->str;
    if (strcmp(kind, "message") == 0 && reply->element[2]->type == REDIS_REPLY_STRING)
        poll_logout(srv, reply->element[2]->str);
    else if (strcmp(kind, "subscribe") == 0)
        event_active(srv->recheck, EV_TIMEOUT, 0);
}

static void poll_metrics(struct poll_srv *srv, struct park_req *pr)
{
    struct hub_stats st;

    hub_get_stats(srv->hub, &st);
    park_printf(pr,
                "Status: 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nCache-Control: no-store\r\n\r\n"
                "chatpoll_requests_parked %lu\n"
                "chatpoll_longpolls %lu\n"
                "chatpoll_streams %lu\n"
                "chatpoll_requests_total %lu\n"
                "chatpoll_timeouts_total %lu\n"
                "chatpoll_client_gone_total %lu\n"
                "chatpoll_online_users %lu\n"
                "chatpoll_redis_up %d\n"
                "chatpoll_redis_reconnects_total %lu\n"
                "chatpoll_channels %lu\n"
                "chatpoll_keyspace_subscriptions %lu\n"
                "chatpoll_events_delivered_total %lu\n"
                "chatpoll_resets_total %lu\n"
                "chatpoll_notifications_total %lu\n"
                "chatpoll_channel_reads_total %lu\n"
                "chatpoll_sweep_wakeups_total %lu\n"
                "chatpoll_logout_closes_total %lu\n"
                "chatpoll_slow_consumer_closes_total %lu\n",
                park_active(srv->park) - 1, srv->longpolls, srv->streams, srv->requests, srv->timeouts,
                park_gone_total(srv->park), online_count(srv->online),
                hub_is_up(srv->hub), hub_reconnects(srv->hub), st.chans, st.subscribed,
                st.events, st.resets, st.notifications, st.reads, st.sweeps_found, srv->logout_closes,
                srv->slow_closes);
    park_end(pr);
}

static void poll_handle(struct park_req *pr, void *arg)
{
    struct poll_srv *srv = arg;
    const char *path = park_path(pr), *query = park_env(pr, PARK_QUERY);
    char token[SESSION_TOKEN_LEN + 1], skey[KEY_MAX];
    const char *cursor, *last_id;
    struct poll_req *p;
    cJSON *params = NULL;
    long long timeout = 0;
    int stream;

    srv->requests++;
    if (strcmp(path, "/api/poll/metrics") == 0) {
        /* Operators only: the loopback, not anyone the front server lets in. */
        const char *addr = park_env(pr, PARK_REMOTE_ADDR);
        if (strcmp(addr, "127.0.0.1") == 0 || strcmp(addr, "::1") == 0)
            return poll_metrics(srv, pr);
        return poll_reply_error(pr, CHAT_ERR_FORBIDDEN, "metrics are served to the loopback only");
    }
    if (strcmp(path, "/api/poll") == 0)
        stream = 0;
    else if (strcmp(path, "/api/stream") == 0)
        stream = 1;
    else
        return poll_reply_error(pr, CHAT_ERR_NOTFOUND, "no such endpoint");
    if (strcmp(park_env(pr, PARK_METHOD), "GET") != 0)
        return poll_reply_error(pr, CHAT_ERR_NOTFOUND, "method not allowed on this path");
    if (!req_origin_allowed(srv->cfg, park_env(pr, PARK_ORIGIN), park_env(pr, PARK_HOST),
                            park_env(pr, PARK_HTTPS)))
        return poll_reply_error(pr, CHAT_ERR_FORBIDDEN, "origin not allowed");
    params = cJSON_CreateObject();
    if (params_parse_form(params, query, strlen(query)) < 0) {
        cJSON_Delete(params);
        return poll_reply_error(pr, CHAT_ERR_INVALID, "bad query string");
    }
    if (!stream && params_int(params, "timeout", 0, srv->cfg->poll_timeout_max,
                              srv->cfg->poll_timeout_default, &timeout) < 0) {
        cJSON_Delete(params);
        return poll_reply_error(pr, CHAT_ERR_INVALID, "timeout must be a whole number of seconds, 0 to the maximum");
    }
    if (req_token_from(park_env(pr, PARK_AUTHORIZATION), park_env(pr, PARK_COOKIE), token) < 0 ||
        session_key(srv->cfg->key_prefix, token, skey) < 0) {
        cJSON_Delete(params);
        return poll_reply_error(pr, CHAT_ERR_UNAUTH, "not signed in");
    }
    if (!hub_is_up(srv->hub)) {
        cJSON_Delete(params);
        return poll_reply_error(pr, CHAT_ERR_UNAVAILABLE, "try again shortly");
    }
    cursor = params_str(params, "cursor");
    last_id = park_env(pr, PARK_LAST_EVENT_ID);
    if (stream && last_id[0])
        cursor = last_id;   /* an EventSource reconnecting by itself */
    p = xcalloc(1, sizeof(*p) + strlen(skey) + 1);
    strcpy(p->skey, skey);
    p->next = srv->reqs;
    if (srv->reqs)
        srv->reqs->prev = p;
    srv->reqs = p;
    p->srv = srv;
    p->pr = pr;
    p->stream = stream;
    p->timeout_s = timeout;
    p->cursor = xstrdup(cursor ? cursor : "");
    cJSON_Delete(params);
    park_on_gone(pr, poll_on_gone_early, p);
    if (ardb_cmd(hub_ardb(srv->hub), poll_on_session, p, "HGET %s user", skey) < 0) {
        park_on_gone(pr, NULL, NULL);
        return poll_fail(p, CHAT_ERR_UNAVAILABLE, "try again shortly");
    }
    /* Using a session keeps it alive, as in chat-api. */
    ardb_cmd(hub_ardb(srv->hub), NULL, NULL, "EXPIRE %s %d", skey, srv->cfg->session_ttl);
}

static void poll_on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct poll_srv *srv = arg;

    (void)what;
    if (sig == SIGHUP) {
        log_open(srv->cfg->log_file);
        log_info("poll", "event=reopen_log");
        return;
    }
    log_info("poll", "event=stop signal=%d", (int)sig);
    event_base_loopexit(srv->base, NULL);
}

int main(int argc, char **argv)
{
    static const struct fcgisrv_prog prog = {
        "chat-poll", "Switchboard FastCGI program: long-poll (/api/poll) and Server-Sent Events (/api/stream).",
        NULL, NULL,
    };
    struct chat_config cfg;
    struct poll_srv srv;
    struct event *sigs[3] = { NULL, NULL, NULL };
    const char *conf, *listen_addr;
    int rc, sock;

    memset(&cfg, 0, sizeof(cfg));
    memset(&srv, 0, sizeof(srv));
    if ((rc = fcgisrv_args(argc, argv, &prog, &conf, &listen_addr)) >= 0)
        return rc;
    if ((rc = fcgisrv_load_config(prog.name, conf, &cfg)) != 0)
        goto out;
    rc = 1;
    if (cfg.poll_timeout_default > cfg.poll_timeout_max) {
        fprintf(stderr, "chat-poll: [poll] poll_timeout_default (%d) is above poll_timeout_max (%d)\n",
                cfg.poll_timeout_default, cfg.poll_timeout_max);
        rc = 2;
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);
    if (evthread_use_pthreads() != 0 || FCGX_Init() != 0 ||
        (sock = fcgisrv_listen(&cfg, listen_addr)) < 0)
        goto out;
    srv.cfg = &cfg;
    srv.base = event_base_new();
    if (!srv.base)
        goto out;
    hub_new(&srv.hub, srv.base, &cfg);
    online_new(&srv.online, srv.base, hub_ardb(srv.hub), &cfg);
    /* Logouts come on the hub's subscriber connection. */
    session_logout_channel(cfg.key_prefix, srv.logout_channel);
    srv.recheck = evtimer_new(srv.base, poll_on_recheck, &srv);
    hub_listen(srv.hub, srv.logout_channel, poll_on_logout, &srv);
    {
        /* The accept thread must not take our signals. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        rc = park_new(&srv.park, srv.base, sock, POLL_MAX_OUT, poll_handle, &srv);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (rc < 0) {
            rc = 1;
            goto out;
        }
    }
    sigs[0] = evsignal_new(srv.base, SIGTERM, poll_on_signal, &srv);
    sigs[1] = evsignal_new(srv.base, SIGINT, poll_on_signal, &srv);
    sigs[2] = evsignal_new(srv.base, SIGHUP, poll_on_signal, &srv);
    for (int i = 0; i < 3; i++)
        evsignal_add(sigs[i], NULL);
    log_info("poll", "event=start");
    event_base_dispatch(srv.base);
    rc = 0;
out:
    for (int i = 0; i < 3; i++)
        if (sigs[i])
            event_free(sigs[i]);
    park_free(srv.park);
    if (srv.recheck)
        event_free(srv.recheck);
    online_free(srv.online);
    hub_free(srv.hub);
    if (srv.base)
        event_base_free(srv.base);
    config_free(&cfg);
    return rc;
}

/* wsgate — the WebSocket gateway: live events pushed to browsers over one
 * socket per tab, woken by Redis keyspace notifications through the same
 * hub as chat-poll. One libevent loop per process; `workers` processes
 * share the port with SO_REUSEPORT. */
#include <errno.h>
#include <event2/http.h>
#include <event2/buffer.h>
#include <event2/thread.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "fcgisrv.h"
#include "log.h"
#include "clientop.h"
#include "wsframe.h"
#include "wsgate.h"
#include "xmalloc.h"

#define WSGATE_DRAIN_MS 3000   /* SIGTERM: closes get this long to finish */

static const char *const wsgate_refusal_names[WS_REFUSED_COUNT] = {
    "bad_request", "version", "method", "origin", "auth", "unavailable", "too_large", "timeout",
};

/* Splits "host:port" into its parts (port required). */
static int wsgate_split_addr(const char *addr, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(addr, ':');
    char *end;
    long p;

    if (!colon || (size_t)(colon - addr) >= hostlen)
        return -1;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    p = strtol(colon + 1, &end, 10);
    if (*end || p < 1 || p > 65535)
        return -1;
    *port = (int)p;
    return 0;
}

static void wsgate_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                             int socklen, void *arg)
{
    struct wsgate *gw = arg;

    (void)l;
    (void)sa;
    (void)socklen;
    if (gw->stopping) {
        evutil_closesocket(fd);
        return;
    }
    wsconn_accept(gw, fd);
}

static void wsgate_on_metrics(struct evhttp_request *req, void *arg)
{
    struct wsgate *gw = arg;
    struct evbuffer *b = evbuffer_new();
    struct hub_stats hs;

    hub_get_stats(gw->hub, &hs);
    evbuffer_add_printf(b,
                        "# TYPE wsgate_connections gauge\nwsgate_connections %lu\n"
                        "wsgate_handshaking %lu\n"
                        "wsgate_upgrades_total %lu\n",
                        gw->st.connections, gw->st.handshaking, gw->st.upgrades);
    for (int i = 0; i < WS_REFUSED_COUNT; i++)
        evbuffer_add_printf(b, "wsgate_upgrades_refused_total{reason=\"%s\"} %lu\n",
                            wsgate_refusal_names[i], gw->st.refused[i]);
    evbuffer_add_printf(b,
                        "wsgate_frames_in_total %lu\nwsgate_frames_out_total %lu\n"
                        "wsgate_events_delivered_total %lu\nwsgate_replays_total %lu\n"
                        "wsgate_slow_consumer_closes_total %lu\nwsgate_ping_timeout_closes_total %lu\n"
                        "wsgate_sends_total %lu\nwsgate_typing_total %lu\n"
                        "wsgate_redis_up %d\nwsgate_redis_reconnects_total %lu\n"
                        "wsgate_keyspace_subscriptions %lu\nwsgate_channels %lu\n"
                        "wsgate_online_users %lu\nwsgate_resets_total %lu\n"
                        "wsgate_wslay_contexts %lu\n",
                        gw->st.frames_in, gw->st.frames_out, gw->st.events_out, gw->st.replays,
                        gw->st.slow_closes, gw->st.ping_closes, gw->st.sends, gw->st.typing,
                        hub_is_up(gw->hub), hub_reconnects(gw->hub), hs.subscribed, hs.chans,
                        online_count(gw->online), hs.resets, wsconn_readers(gw));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain; version=0.0.4");
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

static void wsgate_on_healthz(struct evhttp_request *req, void *arg)
{
    struct wsgate *gw = arg;
    struct evbuffer *b = evbuffer_new();
    int up = hub_is_up(gw->hub);

    evbuffer_add_printf(b, "%s\n", up ? "ok" : "redis unreachable");
    evhttp_send_reply(req, up ? 200 : 503, up ? "OK" : "Service Unavailable", b);
    evbuffer_free(b);
}

/* Typing events published by any wsgate: deliver to our own sockets. */
static void wsgate_on_typing(redisAsyncContext *ac, void *r, void *priv)
{
    struct wsgate *gw = priv;
    redisReply *reply = r;
    cJSON *msg;

    (void)ac;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 ||
        reply->element[0]->type != REDIS_REPLY_STRING || strcmp(reply->element[0]->str, "message") != 0 ||
        reply->element[2]->type != REDIS_REPLY_STRING)
        return;
    msg = cJSON_ParseWithLength(reply->element[2]->str, reply->element[2]->len);
    if (msg) {
        char *ev = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(msg, "ev"));
        if (ev)
            clientop_typing_deliver(gw, cJSON_GetObjectItemCaseSensitive(msg, "to"), ev);
        free(ev);
        cJSON_Delete(msg);
    }
}

/* Logouts published by chat-auth: the payload is the session's key. */
static void wsgate_on_logout(redisAsyncContext *ac, void *r, void *priv)
{
    redisReply *reply = r;

    (void)ac;
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements >= 3 &&
        reply->element[0]->type == REDIS_REPLY_STRING && strcmp(reply->element[0]->str, "message") == 0 &&
        reply->element[2]->type == REDIS_REPLY_STRING)
        wsconn_logout(priv, reply->element[2]->str);
}

static void wsgate_on_drained(evutil_socket_t fd, short what, void *arg)
{
    struct wsgate *gw = arg;

    (void)fd;
    (void)what;
    event_base_loopexit(gw->base, NULL);
}

static void wsgate_on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct wsgate *gw = arg;
    struct timeval tv = { WSGATE_DRAIN_MS / 1000, (WSGATE_DRAIN_MS % 1000) * 1000 };

    (void)what;
    if (sig == SIGHUP) {
        log_open(gw->cfg->log_file);
        log_info("wsgate", "event=reopen_log");
        return;
    }
    if (gw->stopping)
        return;
    gw->stopping = 1;
    log_info("wsgate", "event=stop signal=%d connections=%lu", (int)sig, gw->st.connections);
    if (gw->listener)
        evconnlistener_disable(gw->listener);
    wsconn_close_all(gw);
    event_base_once(gw->base, -1, EV_TIMEOUT, wsgate_on_drained, gw, &tv);
}

static void wsgate_usage(FILE *f)
{
    fprintf(f,
            "Usage: wsgate [-c FILE] [--admin HOST:PORT]\n"
            "Switchboard WebSocket gateway: pushes live events to browsers.\n\n"
            "  -c FILE              configuration file (default: $SWITCHBOARD_CONF or %s)\n"
            "  -a, --admin ADDR     serve /healthz and /metrics on ADDR (overrides [ws] admin)\n"
            "  -h, --help           show this help\n",
            SB_SYSCONFDIR "/switchboard/switchboard.conf");
}

/* One worker: the loop with its listener, hub and (worker 0) admin. */
static int wsgate_run(const struct chat_config *cfg, int worker, const char *admin)
{
    struct wsgate gw;
    struct sockaddr_storage ss;
    int sslen = sizeof(ss), rc = 1;
    struct evhttp *http = NULL;
    struct event *sigs[3] = { NULL, NULL, NULL };
    char host[256];
    int port;

    memset(&gw, 0, sizeof(gw));
    gw.cfg = cfg;
    if (evthread_use_pthreads() != 0 || !(gw.base = event_base_new()))
        return 1;
    if (evutil_parse_sockaddr_port(cfg->ws_listen, (struct sockaddr *)&ss, &sslen) < 0) {
        log_error("wsgate", "event=bad_listen addr=%s", cfg->ws_listen);
        goto out;
    }
    gw.listener = evconnlistener_new_bind(gw.base, wsgate_on_accept, &gw,
                                          LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
                                          LEV_OPT_REUSEABLE_PORT,
                                          4096, (struct sockaddr *)&ss, sslen);
    if (!gw.listener) {
        log_error("wsgate", "event=listen_failed addr=%s err=\"%s\"", cfg->ws_listen, strerror(errno));
        goto out;
    }
    hub_new(&gw.hub, gw.base, cfg);
    wsframe_new(&gw.frame);
    online_new(&gw.online, gw.base, hub_ardb(gw.hub), cfg);
    if (sender_new(&gw.sender, gw.base, cfg) < 0)
        goto out;
    snprintf(gw.typing_channel, sizeof(gw.typing_channel), "%styping", cfg->key_prefix);
    session_logout_channel(cfg->key_prefix, gw.logout_channel);
    hub_listen(gw.hub, gw.typing_channel, wsgate_on_typing, &gw);
    hub_listen(gw.hub, gw.logout_channel, wsgate_on_logout, &gw);
    if (worker == 0 && admin && admin[0]) {
        if (wsgate_split_addr(admin, host, sizeof(host), &port) < 0 || !(http = evhttp_new(gw.base)) ||
            evhttp_bind_socket(http, host, (unsigned short)port) != 0) {
            log_error("wsgate", "event=admin_listen_failed addr=%s", admin);
            goto out;
        }
        evhttp_set_cb(http, "/metrics", wsgate_on_metrics, &gw);
        evhttp_set_cb(http, "/healthz", wsgate_on_healthz, &gw);
    }
    sigs[0] = evsignal_new(gw.base, SIGTERM, wsgate_on_signal, &gw);
    sigs[1] = evsignal_new(gw.base, SIGINT, wsgate_on_signal, &gw);
    sigs[2] = evsignal_new(gw.base, SIGHUP, wsgate_on_signal, &gw);
    for (int i = 0; i < 3; i++)
        evsignal_add(sigs[i], NULL);
    log_info("wsgate", "event=start worker=%d listen=%s admin=%s", worker, cfg->ws_listen,
             worker == 0 && admin ? admin : "-");
    event_base_dispatch(gw.base);
    rc = 0;
out:
    for (int i = 0; i < 3; i++)
        if (sigs[i])
            event_free(sigs[i]);
    while (gw.conns)
        wsconn_close_all(&gw), gw.conns = NULL;
    if (http)
        evhttp_free(http);
    if (gw.listener)
        evconnlistener_free(gw.listener);
    sender_free(gw.sender);
    online_free(gw.online);
    hub_free(gw.hub);
    wsframe_free(gw.frame);
    event_base_free(gw.base);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "admin", required_argument, NULL, 'a' },
        { NULL, 0, NULL, 0 },
    };
    struct chat_config cfg;
    const char *conf = NULL, *admin = NULL;
    pid_t *kids = NULL;
    int opt, rc, nkids = 0;

    memset(&cfg, 0, sizeof(cfg));
    while ((opt = getopt_long(argc, argv, "c:a:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': conf = optarg; break;
        case 'a': admin = optarg; break;
        case 'h': wsgate_usage(stdout); return 0;
        default: wsgate_usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        wsgate_usage(stderr);
        return 2;
    }
    if ((rc = fcgisrv_load_config("wsgate", conf, &cfg)) != 0) {
        config_free(&cfg);
        return rc;
    }
    if (!admin)
        admin = cfg.ws_admin;
    signal(SIGPIPE, SIG_IGN);
    /* Extra workers are forked before any loop or connection exists; each
     * binds the port itself (SO_REUSEPORT) and the kernel spreads
     * connections. The parent is worker 0 and stops the others. */
    kids = xcalloc((size_t)cfg.ws_workers, sizeof(*kids));
    for (int i = 1; i < cfg.ws_workers; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            free(kids);
            rc = wsgate_run(&cfg, i, NULL);
            config_free(&cfg);
            return rc;
        }
        if (pid > 0)
            kids[nkids++] = pid;
    }
    rc = wsgate_run(&cfg, 0, admin);
    for (int i = 0; i < nkids; i++)
        kill(kids[i], SIGTERM);
    for (int i = 0; i < nkids; i++)
        waitpid(kids[i], NULL, 0);
    free(kids);
    config_free(&cfg);
    return rc;
}

/* wsgate's shared state: the gateway (one per process) and its
 * connections. wsgate.c owns the process (listener, admin port, signals,
 * workers); wsconn.c owns one connection from handshake to close. */
#ifndef SB_WSGATE_H
#define SB_WSGATE_H
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <wslay/wslay.h>
#include "config.h"
#include "hub.h"
#include "online.h"
#include "sender.h"
#include "session.h"
#include "user.h"

/* Refusal reasons counted on /metrics. */
enum ws_refusal {
    WS_REFUSED_BAD_REQUEST, WS_REFUSED_VERSION, WS_REFUSED_METHOD, WS_REFUSED_ORIGIN,
    WS_REFUSED_AUTH, WS_REFUSED_UNAVAILABLE, WS_REFUSED_TOO_LARGE, WS_REFUSED_TIMEOUT,
    WS_REFUSED_COUNT
};

struct wsgate_stats {
    unsigned long connections;           /* open WebSockets now */
    unsigned long handshaking;           /* before the upgrade */
    unsigned long upgrades;
    unsigned long refused[WS_REFUSED_COUNT];
    unsigned long frames_in, frames_out;
    unsigned long events_out, replays;
    unsigned long slow_closes, ping_closes;
    unsigned long sends, typing;
};

struct ws_conn;
struct wsframe;

struct wsgate {
    struct event_base *base;
    const struct chat_config *cfg;
    struct hub *hub;
    struct online *online;
    struct sender *sender;
    struct wsframe *frame;               /* builds every outgoing frame */
    char typing_channel[KEY_MAX];
    char logout_channel[KEY_MAX];
    struct evconnlistener *listener;
    struct ws_conn *conns;               /* all, for shutdown and typing */
    struct wsgate_stats st;
    int stopping;
};

/* Takes an accepted socket. */
void wsconn_accept(struct wsgate *gw, evutil_socket_t fd);
/* Shutdown: close every connection with 1001 (going away). */
void wsconn_close_all(struct wsgate *gw);
/* Open connections that hold a wslay event context now (reading part of
 * a frame or closing); idle ones hold none. For /metrics. */
unsigned long wsconn_readers(const struct wsgate *gw);
/* A session was deleted (logout): close its sockets with 4001. */
void wsconn_logout(struct wsgate *gw, const char *skey);

#endif

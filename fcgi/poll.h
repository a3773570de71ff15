/* chat-poll's shared request state. chat-poll.c parses, authenticates and
 * starts a hub subscriber; the transport files implement the delivery
 * (hub_sub_ops): poll_longpoll.c (plain poll and long-poll) and
 * poll_sse.c (Server-Sent Events). */
#ifndef SB_POLL_H
#define SB_POLL_H
#include <event2/buffer.h>
#include <event2/event.h>
#include "ardb.h"
#include "config.h"
#include "hub.h"
#include "keys.h"
#include "online.h"
#include "park.h"
#include "user.h"

struct poll_srv {
    struct event_base *base;
    const struct chat_config *cfg;
    struct hub *hub;
    struct online *online;
    struct park *park;
    struct event *recheck;              /* sessions re-checked after (re)subscribing */
    struct poll_req *reqs;              /* every request with a session key */
    char logout_channel[KEY_MAX];
    unsigned long longpolls, streams;   /* live now */
    unsigned long requests, timeouts;   /* totals */
    unsigned long logout_closes;        /* requests ended by a logout */
    unsigned long slow_closes;          /* streams whose reader stalled */
};

struct poll_req {
    struct poll_srv *srv;
    struct park_req *pr;        /* NULL once ended */
    struct hub_sub *sub;        /* NULL until started / after close */
    struct user_id me;
    int stream;                 /* 1 SSE, 0 poll */
    long long timeout_s;        /* poll only */
    char *cursor;               /* owned, until the subscriber starts */
    struct event *timer;        /* poll timeout / SSE heartbeat */
    struct event *stall;        /* SSE: held too long without draining */
    struct evbuffer *events;    /* poll: events joined with ',' */
    int nevents;
    int ready;                  /* hub start done */
    int head_sent;              /* response headers written */
    int dead;                   /* a write failed: end at the next flush */
    int online;                 /* counted in srv->online */
    int signed_out;             /* logged out while its session was looked up */
    struct poll_req *prev, *next;   /* srv->reqs */
    char skey[];                /* its session's key: what chat-auth publishes
                                   on the logout channel */
};

extern const struct hub_sub_ops poll_longpoll_ops;
extern const struct hub_sub_ops poll_sse_ops;

/* Arms what a transport needs once its subscriber started. May end (free)
 * p when the connection is found gone. */
void poll_longpoll_start(struct poll_req *p);
void poll_sse_start(struct poll_req *p);
/* A parked long-poll whose response headers went out: answers now with
 * what it has and ends (frees p). */
void poll_longpoll_end(struct poll_req *p);

/* Ends the request and frees p (the one way out for every path). */
void poll_finish(struct poll_req *p);
/* Replies with a PROTOCOL.md error if no headers went out yet, then ends. */
void poll_fail(struct poll_req *p, int err, const char *message);

#endif

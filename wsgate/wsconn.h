/* The state of one connection, shared by wsconn.c (its life, I/O and
 * delivery) and clientop.c (the client's ops). Everything runs on the
 * gateway's loop. Nothing here frees the connection inside its own
 * callbacks: wsconn_kill marks it and the callback's caller frees it. */
#ifndef SB_WSCONN_H
#define SB_WSCONN_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include "wsgate.h"
#include "wsin.h"

enum ws_state { WS_HANDSHAKE, WS_AUTH, WS_OPEN, WS_CLOSING };

struct ws_msg {
    struct ws_msg *next;
    size_t len;
    char data[];
};

struct ws_conn {
    struct wsgate *gw;
    struct bufferevent *bev;
    enum ws_state state;
    struct wsin in;                /* in.ctx: wslay, while reading or closing */
    struct hub_sub *sub;
    struct user_id me;
    char *skey;                    /* the session's Redis key */
    char *cursor;                  /* from the query, until the sub starts */
    struct event *timer;           /* handshake timeout, then pings */
    struct ws_msg *q, *q_tail;     /* events not framed yet */
    size_t q_bytes;
    struct event *stall;           /* while held: the reader stalled */
    int held;                      /* hub_sub_hold: the queue is long */
    int refs;                      /* owner + sender jobs + session reply */
    int online;
    int ping_outstanding;
    int upgraded;                  /* counted in connections, not handshaking */
    int raw_closed;                /* a close frame was written by hand: end
                                      once the output has drained */
    long long over_since;          /* mono ms output went past max_output */
    int in_callback;               /* inside wslay or a bufferevent callback */
    int doomed;                    /* free at the next safe point */
    long long last_typing;
    struct ws_conn *prev, *next;
};

/* A text message for the client (an event or a reply), in order; framed
 * now or queued behind a backlog (and then bounded by max_output). */
void wsconn_push(struct ws_conn *c, const char *json, size_t len);
/* The same for obj, which it prints and frees. */
void wsconn_push_json(struct ws_conn *c, cJSON *obj);
/* {"type":"error","cid","code","message"} (cid may be NULL). */
void wsconn_error(struct ws_conn *c, const char *cid, int err, const char *message);
/* Writes what is framed or queued; may end the connection (wsconn_kill). */
void wsconn_pump(struct ws_conn *c);
/* Drops one reference; the last frees c (after wsconn_destroy). */
void wsconn_unref(struct ws_conn *c);
/* Forgets the events not framed yet (a resume replays them). */
void wsconn_drop_queue(struct ws_conn *c);
/* Follows the user's channels from cursor (NULL/"": from now). */
void wsconn_sub_start(struct ws_conn *c, const char *cursor);

#endif

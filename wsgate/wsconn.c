/* One WebSocket connection: the upgrade (parsed by handshake.c, session
 * checked in Redis), then RFC 6455 framing by wslay over a bufferevent,
 * live events from the hub, and the client's ops. wslay never touches the
 * socket: its callbacks read from and write to the bufferevent's buffers.
 *
 * Input goes through a wslay event context that exists only while part
 * of a frame is read or a close is under way (wsin.c). Output frames are
 * built by wsframe.c into the bufferevent's output buffer and written to
 * the socket once per batch.
 *
 * Output is bounded: events wait in a queue of our own and are framed
 * only while the socket buffer is short, so a reader that stops reading
 * is noticed (queued + buffered bytes past max_output), its queue is
 * dropped, and it is closed with 4008: it resumes from its cursor. */
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clientop.h"
#include "clock.h"
#include "cursor.h"
#include "err.h"
#include "event.h"
#include "handshake.h"
#include "keys.h"
#include "log.h"
#include "params.h"
#include "req.h"
#include "sockout.h"
#include "valid.h"
#include "wsconn.h"
#include "wsframe.h"
#include "wsop.h"
#include "xmalloc.h"

#define WS_LOW_WATER (64 * 1024)   /* frame more events below this */
#define WS_CLOSE_GRACE_MS 2000     /* a closing peer gets this long */
/* Unsent output past max_output is tolerated for this long (a replay or a
 * burst lands faster than any socket drains); past WS_HARD_FACTOR times
 * max_output the connection is closed at once. */
#define WS_SOFT_MS 5000
#define WS_HARD_FACTOR 4
/* Events queued past max_output / WS_HOLD_DIVISOR hold the hub: a
 * catch-up of any size then goes at the reader's pace (held for
 * WS_SOFT_MS without draining: a slow consumer). */
#define WS_HOLD_DIVISOR 2

static const struct hub_sub_ops wsconn_sub_ops;

/* ------------------------------------------------------------ lifetime */

void wsconn_unref(struct ws_conn *c)
{
    if (--c->refs > 0)
        return;
    free(c);
}

void wsconn_drop_queue(struct ws_conn *c)
{
    while (c->q) {
        struct ws_msg *m = c->q;
        c->q = m->next;
        free(m);
    }
    c->q_tail = NULL;
    c->q_bytes = 0;
}

/* Frees everything the connection holds; c itself goes with the last
 * reference (a sender job or a Redis reply may still point at it). */
static void wsconn_destroy(struct ws_conn *c)
{
    struct wsgate *gw = c->gw;

    if (!c->bev)
        return;
    if (c->sub)
        hub_sub_close(c->sub);
    c->sub = NULL;
    if (c->online)
        online_remove(gw->online, &c->me);
    c->online = 0;
    if (c->upgraded)
        gw->st.connections--;
    else
        gw->st.handshaking--;
    wsin_release(&c->in);
    if (c->timer)
        event_free(c->timer);
    c->timer = NULL;
    if (c->stall)
        event_free(c->stall);
    c->stall = NULL;
    bufferevent_free(c->bev);
    c->bev = NULL;
    wsconn_drop_queue(c);
    free(c->cursor);
    c->cursor = NULL;
    free(c->skey);
    c->skey = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else if (gw->conns == c)
        gw->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    wsconn_unref(c);
}

/* Never free inside a callback of the object itself: mark, and the
 * callback's caller frees on its way out. */
static void wsconn_kill(struct ws_conn *c)
{
    if (c->in_callback)
        c->doomed = 1;
    else
        wsconn_destroy(c);
}

/* ------------------------------------------------------------ HTTP refusals */

static void wsconn_refuse(struct ws_conn *c, int status, enum ws_refusal why, const char *msg)
{
    int err = status == 401 ? CHAT_ERR_UNAUTH : status == 403 ? CHAT_ERR_FORBIDDEN
            : status == 404 ? CHAT_ERR_NOTFOUND : status == 503 ? CHAT_ERR_UNAVAILABLE
            : status == 413 ? CHAT_ERR_TOOBIG : CHAT_ERR_INVALID;
    char *body = req_error_body(err, msg);

    c->gw->st.refused[why]++;
    evbuffer_add_printf(bufferevent_get_output(c->bev),
                        "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                        "%s%sConnection: close\r\n\r\n%s",
                        status, req_reason(status), strlen(body),
                        status == 426 ? "Sec-WebSocket-Version: 13\r\n" : "",
                        status == 503 ? "Retry-After: 1\r\n" : "", body);
    free(body);
    log_info("wsgate", "event=upgrade_refused status=%d reason=\"%s\"", status, msg);
    c->state = WS_CLOSING;
    bufferevent_disable(c->bev, EV_READ);
    wsconn_pump(c);   /* frees once the answer is out */
}

/* ------------------------------------------------------------ wslay I/O */

static ssize_t wsconn_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                              void *user)
{
    struct ws_conn *c = user;
    int n = evbuffer_remove(bufferevent_get_input(c->bev), buf, len);

    (void)flags;
    if (n <= 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    wsin_fed(&c->in, (size_t)n);
    c->ping_outstanding = 0;   /* the peer is alive */
    return n;
}

/* What wslay's event layer sends (pongs, close frames) joins the output
 * buffer like every other frame, in order. */
static ssize_t wsconn_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                              void *user)
{
    struct ws_conn *c = user;

    (void)flags;
    if (evbuffer_add(bufferevent_get_output(c->bev), data, len) != 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

static void wsconn_frame(struct ws_conn *c, uint8_t opcode, const struct iovec *v, int n)
{
    if (wsframe_add(c->gw->frame, bufferevent_get_output(c->bev), opcode, v, n) >= 0)
        c->gw->st.frames_out++;
}

static const struct wslay_event_callbacks wsconn_wslay_callbacks;

static void wsconn_ctx_get(struct ws_conn *c)
{
    wsin_ctx(&c->in, &wsconn_wslay_callbacks, c, (uint64_t)c->gw->cfg->ws_max_message);
}

static void wsconn_close(struct ws_conn *c, uint16_t code, const char *reason)
{
    if (!c->upgraded || c->state == WS_CLOSING)
        return;
    wsconn_ctx_get(c);
    c->state = WS_CLOSING;
    wsconn_drop_queue(c);
    wslay_event_queue_close(c->in.ctx, code, (const uint8_t *)reason, reason ? strlen(reason) : 0);
    wslay_event_shutdown_read(c->in.ctx);
    if (c->timer) {
        struct timeval tv = { WS_CLOSE_GRACE_MS / 1000, (WS_CLOSE_GRACE_MS % 1000) * 1000 };
        evtimer_add(c->timer, &tv);   /* a peer that never answers is dropped */
    }
    log_debug("wsgate", "event=close code=%u user=%s", code, c->me.name[0] ? c->me.name : "-");
}

static void wsconn_slow_close(struct ws_conn *c, size_t unsent)
{
    c->gw->st.slow_closes++;
    log_info("wsgate", "event=slow_consumer user=%s unsent=%zu", c->me.name, unsent);
    wsconn_close(c, 4008, "slow consumer: resume from your cursor");
}

static void wsconn_on_stall(evutil_socket_t fd, short what, void *arg)
{
    struct ws_conn *c = arg;

    (void)fd;
    (void)what;
    if (c->state != WS_OPEN || !c->held)
        return;
    wsconn_slow_close(c, c->q_bytes + evbuffer_get_length(bufferevent_get_output(c->bev)));
    wsconn_pump(c);
}

/* (Re)starts the WS_SOFT_MS a held connection has to make progress. */
static void wsconn_stall_arm(struct ws_conn *c)
{
    struct timeval tv = { WS_SOFT_MS / 1000, (WS_SOFT_MS % 1000) * 1000 };

    if (!c->stall)
        c->stall = evtimer_new(c->gw->base, wsconn_on_stall, c);
    evtimer_add(c->stall, &tv);
}

static void wsconn_hold(struct ws_conn *c)
{
    hub_sub_hold(c->sub);
    c->held = 1;
    wsconn_stall_arm(c);
}

static void wsconn_release(struct ws_conn *c)
{
    c->held = 0;
    evtimer_del(c->stall);
    hub_sub_release(c->sub);
}

/* An event or a JSON reply of our own (pong, ack, error, hello), as
 * pieces of one text message. While the output is short it is framed at
 * once (and written at the end of the batch); behind a backlog it waits
 * in the queue, so order is kept and a reader that stopped reading holds
 * at most about max_output. */
static void wsconn_pushv(struct ws_conn *c, const struct iovec *v, int n)
{
    struct evbuffer *out;
    struct ws_msg *m;
    size_t len = 0, unsent, soft, off = 0;

    if (c->state != WS_OPEN)
        return;
    for (int i = 0; i < n; i++)
        len += v[i].iov_len;
    out = bufferevent_get_output(c->bev);
    unsent = c->q_bytes + len + evbuffer_get_length(out);
    soft = (size_t)c->gw->cfg->ws_max_output;
    if (unsent <= soft) {
        c->over_since = 0;
    } else {
        long long now = clock_mono_ms();
        if (!c->over_since)
            c->over_since = now;
        if (unsent > soft * WS_HARD_FACTOR || now - c->over_since >= WS_SOFT_MS) {
            wsconn_slow_close(c, unsent);
            return;
        }
    }
    if (!c->q && evbuffer_get_length(out) < WS_LOW_WATER) {
        wsconn_frame(c, WSLAY_TEXT_FRAME, v, n);
        return;
    }
    m = xmalloc(sizeof(*m) + len);
    m->next = NULL;
    m->len = len;
    for (int i = 0; i < n; i++) {
        memcpy(m->data + off, v[i].iov_base, v[i].iov_len);
        off += v[i].iov_len;
    }
    if (c->q_tail)
        c->q_tail->next = m;
    else
        c->q = m;
    c->q_tail = m;
    c->q_bytes += len;
}

void wsconn_push(struct ws_conn *c, const char *json, size_t len)
{
    struct iovec v = { (void *)json, len };

    wsconn_pushv(c, &v, 1);
}

void wsconn_push_json(struct ws_conn *c, cJSON *obj)
{
    char *s = cJSON_PrintUnformatted(obj);

    if (s) {
        wsconn_push(c, s, strlen(s));
        free(s);
    }
    cJSON_Delete(obj);
}

void wsconn_error(struct ws_conn *c, const char *cid, int err, const char *message)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "type", "error");
    if (cid)
        cJSON_AddStringToObject(o, "cid", cid);
    cJSON_AddStringToObject(o, "code", err_code(err));
    cJSON_AddStringToObject(o, "message", message ? message : err_code(err));
    wsconn_push_json(c, o);
}

/* Frames queued events while the socket buffer is short, lets wslay
 * send what it has, and writes. Frees the connection once a refusal, a
 * hand-made close or wslay's close handshake is done and written. */
void wsconn_pump(struct ws_conn *c)
{
    struct evbuffer *out;
    int framed = 0;

    if (!c->bev)
        return;
    out = bufferevent_get_output(c->bev);
    if (c->in.ctx && !c->raw_closed && wslay_event_send(c->in.ctx) != 0) {
        wsconn_kill(c);
        return;
    }
    /* Frame up to the low water mark and write, again while the socket
     * takes it all: nothing else would come back for the rest. */
    do {
        while (c->q && evbuffer_get_length(out) < WS_LOW_WATER && c->state == WS_OPEN) {
            struct ws_msg *m = c->q;
            struct iovec v = { m->data, m->len };
            c->q = m->next;
            if (!c->q)
                c->q_tail = NULL;
            c->q_bytes -= m->len;
            wsconn_frame(c, WSLAY_TEXT_FRAME, &v, 1);
            free(m);
            framed = 1;
        }
        if (sockout_flush(c->bev) < 0) {
            wsconn_kill(c);
            return;
        }
    } while (c->q && c->state == WS_OPEN && !sockout_waiting(c->bev));
    if (c->held && !c->q && c->sub && c->state == WS_OPEN)
        wsconn_release(c);   /* the queue is framed: read on */
    else if (c->held && framed)
        wsconn_stall_arm(c);   /* a slow reader, but reading */
    if (evbuffer_get_length(out) == 0 &&
        ((c->state == WS_CLOSING && (!c->in.ctx || c->raw_closed)) ||
         (c->in.ctx && !c->raw_closed && !wslay_event_want_read(c->in.ctx) && !wslay_event_want_write(c->in.ctx)))) {
        wsconn_kill(c);
        return;
    }
    if (c->in.ctx && !wslay_event_want_read(c->in.ctx))
        bufferevent_disable(c->bev, EV_READ);
}

/* ------------------------------------------------------------ client ops */

static void wsconn_on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                          void *user)
{
    struct ws_conn *c = user;
    struct wsop op;

    (void)ctx;
    c->gw->st.frames_in++;
    if (arg->opcode != WSLAY_TEXT_FRAME && arg->opcode != WSLAY_BINARY_FRAME)
        return;   /* control frames: wslay answers them */
    wsop_parse(arg->opcode, arg->msg, arg->msg_length, &op);
    switch (op.kind) {
    case WSOP_CLOSE: wsconn_close(c, op.close_code, op.why); break;
    case WSOP_ERROR: wsconn_error(c, NULL, CHAT_ERR_INVALID, op.why); break;
    case WSOP_PING: wsconn_push(c, "{\"type\":\"pong\"}", 15); break;
    case WSOP_SEND: clientop_send(c, op.json); break;
    case WSOP_TYPING: clientop_typing(c, op.json); break;
    case WSOP_RESUME: clientop_resume(c, op.json); break;
    }
    wsop_free(&op);
}

/* Where each frame ends, for wsin. Also: a close frame whose body is one byte holds half a status code (RFC 6455
 * 5.5.1); wslay would read it as "no code" and answer politely. */
static void wsconn_on_frame_start(wslay_event_context_ptr ctx,
                                  const struct wslay_event_on_frame_recv_start_arg *arg, void *user)
{
    struct ws_conn *c = user;

    (void)ctx;
    wsin_frame_start(&c->in, arg);
    if (arg->opcode == WSLAY_CONNECTION_CLOSE && arg->payload_length == 1)
        wsconn_close(c, 1002, "close code must be two bytes");
}

static void wsconn_on_frame_end(wslay_event_context_ptr ctx, void *user)
{
    struct ws_conn *c = user;

    (void)ctx;
    wsin_frame_end(&c->in);
}

static const struct wslay_event_callbacks wsconn_wslay_callbacks = {
    wsconn_recv_cb, wsconn_send_cb, NULL, wsconn_on_frame_start, NULL, wsconn_on_frame_end,
    wsconn_on_msg,
};

/* ------------------------------------------------------------ hub side */

/* The event with its "cursor" member, written as pieces: no copy of the
 * event is made for a socket whose output is short. */
static void wsconn_ev(struct hub_sub *s, const char *json, size_t len, void *arg)
{
    struct ws_conn *c = arg;
    struct iovec v[4];
    const char *sep, *cursor;
    size_t body, clen;

    if (event_cursor_split(json, len, &body, &sep) < 0)
        return;
    cursor = hub_sub_cursor_peek(s, &clen);
    v[0] = (struct iovec){ (void *)json, body };
    v[1] = (struct iovec){ (void *)sep, strlen(sep) };
    v[2] = (struct iovec){ (void *)cursor, clen };
    v[3] = (struct iovec){ (void *)EVENT_CURSOR_CLOSE, sizeof(EVENT_CURSOR_CLOSE) - 1 };
    c->gw->st.events_out++;
    wsconn_pushv(c, v, 4);
    if (!c->held && c->state == WS_OPEN && c->q_bytes >= (size_t)c->gw->cfg->ws_max_output / WS_HOLD_DIVISOR)
        wsconn_hold(c);
}

static void wsconn_ev_flush(struct hub_sub *s, void *arg)
{
    (void)s;
    wsconn_pump(arg);
}

/* The replay is done (every channel read up to its head): hello. */
static void wsconn_ev_caught_up(struct hub_sub *s, void *arg)
{
    struct ws_conn *c = arg;
    cJSON *o = cJSON_CreateObject();
    size_t clen;

    cJSON_AddStringToObject(o, "type", "hello");
    cJSON_AddStringToObject(o, "user", c->me.name);
    cJSON_AddStringToObject(o, "cursor", hub_sub_cursor_peek(s, &clen));
    wsconn_push_json(c, o);
    wsconn_pump(c);
}

static void wsconn_ev_failed(struct hub_sub *s, int err, void *arg)
{
    struct ws_conn *c = arg;

    (void)s;
    (void)err;
    c->sub = NULL;
    hub_sub_close(s);
    wsconn_close(c, 1011, "live delivery unavailable; reconnect");
    wsconn_pump(c);
}

static const struct hub_sub_ops wsconn_sub_ops = {
    .event = wsconn_ev, .flush = wsconn_ev_flush, .failed = wsconn_ev_failed,
    .caught_up = wsconn_ev_caught_up,
};

void wsconn_sub_start(struct ws_conn *c, const char *cursor)
{
    int rc;

    /* A new subscriber (also after resume) starts unheld. */
    c->held = 0;
    if (c->stall)
        evtimer_del(c->stall);
    rc = hub_sub_start(c->gw->hub, &c->me, cursor, &wsconn_sub_ops, c, &c->sub);

    if (rc < 0) {
        c->sub = NULL;
        wsconn_close(c, rc == CHAT_ERR_INVALID ? 1008 : 1011,
                     rc == CHAT_ERR_INVALID ? "bad cursor" : "live delivery unavailable; reconnect");
        wsconn_pump(c);
        return;
    }
    if (cursor && cursor[0])
        c->gw->st.replays++;
}

/* ------------------------------------------------------------ upgrade */

static void wsconn_on_timer(evutil_socket_t fd, short what, void *arg);
static void wsconn_read_frames(struct ws_conn *c);

static void wsconn_on_session(struct ardb *a, redisReply *reply, void *arg)
{
    struct ws_conn *c = arg;
    struct wsgate *gw = c->gw;
    char accept[HANDSHAKE_ACCEPT_LEN + 1];
    struct timeval tv = { gw->cfg->ws_ping_interval, 0 };
    const char *key;

    (void)a;
    if (!c->bev) {
        wsconn_unref(c);
        return;
    }
    c->in_callback = 1;
    if (!reply) {
        wsconn_refuse(c, 503, WS_REFUSED_UNAVAILABLE, "try again shortly");
    } else if (reply->type != REDIS_REPLY_STRING || user_id_set(&c->me, reply->str) < 0) {
        wsconn_refuse(c, 401, WS_REFUSED_AUTH, "not signed in");
    } else {
        key = c->cursor + strlen(c->cursor) + 1;   /* stored after the cursor */
        handshake_accept(key, accept);
        evbuffer_add_printf(bufferevent_get_output(c->bev),
                            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", accept);
        c->state = WS_OPEN;
        c->upgraded = 1;
        gw->st.handshaking--;
        gw->st.connections++;
        gw->st.upgrades++;
        online_add(gw->online, &c->me);
        c->online = 1;
        evtimer_del(c->timer);
        event_free(c->timer);
        c->timer = event_new(gw->base, -1, EV_PERSIST, wsconn_on_timer, c);
        evtimer_add(c->timer, &tv);
        wsconn_sub_start(c, c->cursor);
        free(c->cursor);
        c->cursor = NULL;
        bufferevent_enable(c->bev, EV_READ);
        /* Frames that came right behind the request. */
        if (c->state == WS_OPEN && evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
            wsconn_read_frames(c);
        else
            wsconn_pump(c);
    }
    c->in_callback = 0;
    wsconn_unref(c);
    if (c->doomed)
        wsconn_destroy(c);
}

/* The request head is complete: check it and ask Redis for the session. */
static void wsconn_on_head(struct ws_conn *c, size_t head_len)
{
    struct wsgate *gw = c->gw;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    char token[SESSION_TOKEN_LEN + 1], skey[KEY_MAX];
    struct handshake hs;
    struct cursor probe;
    const char *why, *cur;
    cJSON *params;
    char *head;
    int status;

    head = xmalloc(head_len + 1);
    evbuffer_remove(in, head, head_len);
    head[head_len] = '\0';
    status = handshake_parse(head, head_len, &hs, &why);
    if (status) {
        wsconn_refuse(c, status, status == 426 ? WS_REFUSED_VERSION
                                 : status == 405 ? WS_REFUSED_METHOD : WS_REFUSED_BAD_REQUEST, why);
        free(head);
        return;
    }
    if (strcmp(hs.path, "/ws") != 0) {
        wsconn_refuse(c, 404, WS_REFUSED_BAD_REQUEST, "no such endpoint");
        free(head);
        return;
    }
    if (!req_origin_allowed(gw->cfg, hs.origin, hs.host, NULL)) {
        wsconn_refuse(c, 403, WS_REFUSED_ORIGIN, "origin not allowed");
        free(head);
        return;
    }
    if (req_token_from(hs.authorization, hs.cookie, token) < 0 ||
        session_key(gw->cfg->key_prefix, token, skey) < 0) {
        wsconn_refuse(c, 401, WS_REFUSED_AUTH, "not signed in");
        free(head);
        return;
    }
    params = cJSON_CreateObject();
    cursor_init(&probe);
    cur = params_parse_form(params, hs.query, strlen(hs.query)) == 0 ? params_str(params, "cursor") : NULL;
    if (cur && cursor_decode(&probe, cur) < 0) {
        cursor_free(&probe);
        cJSON_Delete(params);
        wsconn_refuse(c, 400, WS_REFUSED_BAD_REQUEST, "bad cursor");
        free(head);
        return;
    }
    cursor_free(&probe);
    /* Keep the cursor and, behind its NUL, the key for the 101 answer. */
    {
        size_t cl = cur ? strlen(cur) : 0, kl = strlen(hs.key);
        c->cursor = xmalloc(cl + kl + 2);
        memcpy(c->cursor, cur ? cur : "", cl + 1);
        memcpy(c->cursor + cl + 1, hs.key, kl + 1);
    }
    cJSON_Delete(params);
    free(head);
    c->state = WS_AUTH;
    c->skey = xstrdup(skey);
    bufferevent_disable(c->bev, EV_READ);
    if (ardb_cmd(hub_ardb(gw->hub), wsconn_on_session, c, "HGET %s user", skey) < 0) {
        wsconn_refuse(c, 503, WS_REFUSED_UNAVAILABLE, "try again shortly");
        return;
    }
    c->refs++;
    ardb_cmd(hub_ardb(gw->hub), NULL, NULL, "EXPIRE %s %d", skey, gw->cfg->session_ttl);
}

/* ------------------------------------------------------------ events */

/* wslay gives up on a frame it cannot parse (a fragmented or oversized
 * control frame, a non-minimal length) without sending anything: answer
 * with close 1002 ourselves, then end once it is out. */
static void wsconn_protocol_error(struct ws_conn *c)
{
    static const uint8_t code_1002[] = { 0x03, 0xea };
    struct iovec v = { (void *)code_1002, sizeof(code_1002) };
    struct timeval tv = { WS_CLOSE_GRACE_MS / 1000, (WS_CLOSE_GRACE_MS % 1000) * 1000 };

    wsconn_drop_queue(c);
    wsconn_frame(c, WSLAY_CONNECTION_CLOSE, &v, 1);
    c->raw_closed = 1;
    c->state = WS_CLOSING;
    bufferevent_disable(c->bev, EV_READ);
    if (c->timer)
        evtimer_add(c->timer, &tv);
    log_debug("wsgate", "event=close code=1002 user=%s reason=bad_frame", c->me.name);
}

/* Input after the upgrade: wslay reads whole frames from the input
 * buffer and calls wsconn_on_msg for each message. */
static void wsconn_read_frames(struct ws_conn *c)
{
    wsconn_ctx_get(c);
    if (wslay_event_recv(c->in.ctx) != 0)
        wsconn_protocol_error(c);
    wsconn_pump(c);
    /* Between frames and not closing: drop the context until more comes. */
    if (!c->doomed && c->state == WS_OPEN && !c->raw_closed && wsin_idle(&c->in))
        wsin_release(&c->in);
}

static void wsconn_on_read(struct bufferevent *bev, void *arg)
{
    struct ws_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);

    c->in_callback = 1;
    if (c->state == WS_HANDSHAKE) {
        size_t n = evbuffer_get_length(in);
        size_t look = n < (size_t)c->gw->cfg->ws_max_header ? n : (size_t)c->gw->cfg->ws_max_header;
        size_t head = handshake_head_len((const char *)evbuffer_pullup(in, (ssize_t)look), look);
        if (head)
            wsconn_on_head(c, head);
        else if (n >= (size_t)c->gw->cfg->ws_max_header)
            wsconn_refuse(c, 413, WS_REFUSED_TOO_LARGE, "request head too large");
    } else if (c->upgraded && (c->state == WS_OPEN || c->state == WS_CLOSING) && !c->raw_closed) {
        wsconn_read_frames(c);
    } else {
        evbuffer_drain(in, evbuffer_get_length(in));
    }
    c->in_callback = 0;
    if (c->doomed)
        wsconn_destroy(c);
}

/* The socket took all that was waiting: back to writing directly. */
static void wsconn_on_write(struct bufferevent *bev, void *arg)
{
    struct ws_conn *c = arg;

    c->in_callback = 1;
    sockout_drained(bev);
    wsconn_pump(c);
    c->in_callback = 0;
    if (c->doomed)
        wsconn_destroy(c);
}

static void wsconn_on_event(struct bufferevent *bev, short what, void *arg)
{
    struct ws_conn *c = arg;

    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        wsconn_destroy(c);
}

/* A session can also end by expiring: checked at every ping, which also
 * keeps it alive while the socket is in use (as any request does). */
static void wsconn_on_session_alive(struct ardb *a, redisReply *reply, void *arg)
{
    struct ws_conn *c = arg;

    (void)a;
    if (c->bev && c->state == WS_OPEN && reply && reply->type == REDIS_REPLY_INTEGER && reply->integer == 0) {
        log_info("wsgate", "event=session_ended user=%s reason=expired", c->me.name);
        wsconn_close(c, 4001, "session expired");
        wsconn_pump(c);
    }
    wsconn_unref(c);
}

static void wsconn_on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct ws_conn *c = arg;

    (void)fd;
    (void)what;
    if (c->state == WS_HANDSHAKE || c->state == WS_AUTH) {
        c->gw->st.refused[WS_REFUSED_TIMEOUT]++;
        wsconn_destroy(c);   /* slowloris: no answer, just the slot back */
        return;
    }
    if (c->state == WS_CLOSING) {
        wsconn_destroy(c);
        return;
    }
    if (c->ping_outstanding) {
        c->gw->st.ping_closes++;
        wsconn_destroy(c);   /* no answer to the last ping */
        return;
    }
    wsconn_frame(c, WSLAY_PING, NULL, 0);
    c->ping_outstanding = 1;
    if (ardb_cmd(hub_ardb(c->gw->hub), wsconn_on_session_alive, c, "EXPIRE %s %d", c->skey,
                 c->gw->cfg->session_ttl) == 0)
        c->refs++;
    c->in_callback = 1;
    wsconn_pump(c);
    c->in_callback = 0;
    if (c->doomed)
        wsconn_destroy(c);
}

void wsconn_accept(struct wsgate *gw, evutil_socket_t fd)
{
    struct ws_conn *c = xcalloc(1, sizeof(*c));
    struct timeval tv = { gw->cfg->ws_handshake_timeout, 0 };

    c->gw = gw;
    c->refs = 1;
    c->bev = bufferevent_socket_new(gw->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev) {
        evutil_closesocket(fd);
        free(c);
        return;
    }
    bufferevent_setcb(c->bev, wsconn_on_read, wsconn_on_write, wsconn_on_event, c);
    sockout_init(c->bev);   /* wsconn_pump writes */
    bufferevent_enable(c->bev, EV_READ);
    c->timer = evtimer_new(gw->base, wsconn_on_timer, c);
    evtimer_add(c->timer, &tv);
    gw->st.handshaking++;
    c->next = gw->conns;
    if (gw->conns)
        gw->conns->prev = c;
    gw->conns = c;
}

void wsconn_close_all(struct wsgate *gw)
{
    for (struct ws_conn *c = gw->conns, *next; c; c = next) {
        next = c->next;
        if (c->state == WS_OPEN) {
            wsconn_close(c, 1001, "server going away");
            wsconn_pump(c);
        } else if (c->state != WS_CLOSING) {
            wsconn_destroy(c);
        }
    }
}

unsigned long wsconn_readers(const struct wsgate *gw)
{
    unsigned long n = 0;

    for (const struct ws_conn *c = gw->conns; c; c = c->next)
        n += c->in.ctx != NULL;
    return n;
}

void wsconn_logout(struct wsgate *gw, const char *skey)
{
    /* next is taken first: a pump may end (free) the connection. */
    for (struct ws_conn *c = gw->conns, *next; c; c = next) {
        next = c->next;
        if (c->state == WS_OPEN && c->skey && strcmp(c->skey, skey) == 0) {
            log_info("wsgate", "event=session_ended user=%s", c->me.name);
            wsconn_close(c, 4001, "signed out");
            wsconn_pump(c);
        }
    }
}

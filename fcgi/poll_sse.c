/* Server-Sent Events: "id: <cursor>" + "data: <event>" per event, a
 * comment heartbeat, a retry hint. The stream stays open until the client
 * leaves, or stops reading for long (then it resumes with Last-Event-ID).
 *
 * Flow control: once SSE_HOLD_BYTES wait for lighttpd, the hub is held
 * (nothing more is handed to this stream, its cursor stays exact) until
 * that output has gone out; so a catch-up of megabytes goes at the
 * client's pace and never past the output limit. */
#include "log.h"
#include "poll.h"

#define SSE_HOLD_BYTES (256 * 1024)

/* Queues one message: "id: <cursor>", a "data:" line if json, the blank
 * line. One FastCGI record, from its pieces: lighttpd's work per stream
 * and event is per record, and this runs for every stream of every event,
 * so it neither allocates nor formats. */
static int sse_queue(struct poll_req *p, struct hub_sub *s, const char *json, size_t len)
{
    struct iovec v[5];
    size_t clen;
    int n = 0;

    v[n++] = (struct iovec){ (void *)"id: ", 4 };
    v[n].iov_base = (void *)hub_sub_cursor_peek(s, &clen);
    v[n++].iov_len = clen;
    if (json) {
        v[n++] = (struct iovec){ (void *)"\ndata: ", 7 };
        v[n++] = (struct iovec){ (void *)json, len };
    }
    v[n++] = (struct iovec){ (void *)"\n\n", 2 };
    return park_queuev(p->pr, v, n);
}

static void sse_on_stall(evutil_socket_t fd, short what, void *arg)
{
    struct poll_req *p = arg;

    (void)fd;
    (void)what;
    p->srv->slow_closes++;
    log_info("poll", "event=slow_consumer user=%s unsent=%zu", p->me.name, p->pr ? park_unsent(p->pr) : 0);
    poll_finish(p);
}

static void sse_hold(struct poll_req *p, struct hub_sub *s)
{
    /* Held this long without the output draining: the reader stalled. */
    struct timeval tv = { p->srv->cfg->sse_stall, 0 };

    hub_sub_hold(s);
    if (!p->stall)
        p->stall = evtimer_new(p->srv->base, sse_on_stall, p);
    evtimer_add(p->stall, &tv);
}

static void sse_release(struct poll_req *p)
{
    evtimer_del(p->stall);
    hub_sub_release(p->sub);
}

/* What waited for lighttpd has gone out: on with the stream. */
static void sse_on_drain(struct park_req *pr, void *arg)
{
    struct poll_req *p = arg;

    (void)pr;
    if (p->sub && hub_sub_held(p->sub))
        sse_release(p);
}

static void sse_event(struct hub_sub *s, const char *json, size_t len, void *arg)
{
    struct poll_req *p = arg;

    if (p->dead || !p->pr)
        return;
    if (sse_queue(p, s, json, len) < 0)
        p->dead = 1;   /* ended at the flush: not from inside the hub */
    else if (!hub_sub_held(s) && park_unsent(p->pr) >= SSE_HOLD_BYTES)
        sse_hold(p, s);
}

static void sse_flush(struct hub_sub *s, void *arg)
{
    struct poll_req *p = arg;

    (void)s;
    if (p->dead || (p->pr && park_flush(p->pr) < 0)) {
        poll_finish(p);
        return;
    }
    /* The socket took it all: no drain callback will come. */
    if (hub_sub_held(s) && p->pr && park_unsent(p->pr) == 0)
        sse_release(p);
}

static void sse_on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
    struct poll_req *p = arg;

    (void)fd;
    (void)what;
    if (park_write(p->pr, ": hb\n\n", 6) < 0)
        poll_finish(p);
}

static void sse_ready(struct hub_sub *s, void *arg)
{
    struct poll_req *p = arg;
    struct timeval tv = { p->srv->cfg->sse_heartbeat, 0 };

    p->ready = 1;
    /* Events of the catch-up may already be written (after these headers,
     * which went out at start); the id-only message hands a client that
     * had no cursor its starting point. */
    if (sse_queue(p, s, NULL, 0) < 0 || park_flush(p->pr) < 0) {
        poll_finish(p);
        return;
    }
    p->timer = event_new(p->srv->base, -1, EV_PERSIST, sse_on_heartbeat, p);
    evtimer_add(p->timer, &tv);
}

static void sse_failed(struct hub_sub *s, int err, void *arg)
{
    (void)s;
    poll_fail(arg, err, "live delivery is unavailable");
}

const struct hub_sub_ops poll_sse_ops = {
    .event = sse_event, .flush = sse_flush, .ready = sse_ready, .failed = sse_failed,
};

void poll_sse_start(struct poll_req *p)
{
    p->srv->streams++;
    p->head_sent = 1;
    park_on_drain(p->pr, sse_on_drain, p);
    if (park_printf(p->pr, "Status: 200 OK\r\nContent-Type: text/event-stream\r\n"
                           "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\n"
                           "retry: %d\n\n", p->srv->cfg->sse_retry_ms) < 0)
        poll_finish(p);   /* gone already: park reports it no more */
}

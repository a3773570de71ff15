/* Server-Sent Events: "id: <cursor>" + "data: <event>" per event, a
 * comment heartbeat, a retry hint. The stream stays open until the client
 * leaves (or its output backs up, then it resumes with Last-Event-ID). */
#include <stdlib.h>
#include <string.h>

#include "poll.h"

static void sse_event(struct hub_sub *s, const char *json, size_t len, void *arg)
{
    struct poll_req *p = arg;
    struct evbuffer *b;
    char *cursor;

    if (p->dead || !p->pr)
        return;
    /* One FastCGI record per event: lighttpd's work per stream and event
     * is per record, not per byte. */
    cursor = hub_sub_cursor(s);
    b = evbuffer_new();
    evbuffer_add_printf(b, "id: %s\ndata: ", cursor);
    evbuffer_add(b, json, len);
    evbuffer_add(b, "\n\n", 2);
    if (park_write(p->pr, (const char *)evbuffer_pullup(b, -1), evbuffer_get_length(b)) < 0)
        p->dead = 1;   /* ended at the flush: not from inside the hub */
    evbuffer_free(b);
    free(cursor);
}

static void sse_flush(struct hub_sub *s, void *arg)
{
    struct poll_req *p = arg;

    (void)s;
    if (p->dead)
        poll_finish(p);
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
    char *cursor;

    p->ready = 1;
    /* Events of the catch-up may already be written (after these headers,
     * which went out at start); the id-only message hands a client that
     * had no cursor its starting point. */
    cursor = hub_sub_cursor(s);
    if (park_printf(p->pr, "id: %s\n\n", cursor) < 0) {
        free(cursor);
        poll_finish(p);
        return;
    }
    free(cursor);
    p->timer = event_new(p->srv->base, -1, EV_PERSIST, sse_on_heartbeat, p);
    evtimer_add(p->timer, &tv);
}

static void sse_failed(struct hub_sub *s, int err, void *arg)
{
    (void)s;
    poll_fail(arg, err, "live delivery is unavailable");
}

const struct hub_sub_ops poll_sse_ops = {
    sse_event, sse_flush, sse_ready, sse_failed,
};

void poll_sse_start(struct poll_req *p)
{
    p->srv->streams++;
    park_printf(p->pr, "Status: 200 OK\r\nContent-Type: text/event-stream\r\n"
                       "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\n"
                       "retry: %d\n\n", p->srv->cfg->sse_retry_ms);
    p->head_sent = 1;
}

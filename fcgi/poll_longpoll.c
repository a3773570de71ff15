/* Plain poll (timeout=0) and long-poll: one JSON answer
 * {"events":[…],"cursor"} as soon as there is something, else at the
 * timeout. While waiting only the headers have gone out: lighttpd then
 * reports a client that leaves by closing our connection. */
#include "poll.h"

#define LONGPOLL_HEAD "Status: 200 OK\r\nContent-Type: application/json\r\n" \
                      "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\n"
/* An answer carries about this much at most: a client that missed
 * megabytes catches up in several answers (the hub is held, so the
 * cursor stops at the last event included), and an answer always fits
 * the output limit. */
#define LONGPOLL_ANSWER_MAX (256 * 1024)
/* Pieces of the events buffer written as they lie; more chunks than this
 * are joined first (the rest of the answer takes 5 pieces). */
#define LONGPOLL_EVENT_PIECES (PARK_IOV_MAX - 5)

static void longpoll_answer(struct poll_req *p)
{
    struct iovec v[PARK_IOV_MAX];
    size_t clen;
    int n = 0, k;

    if (!p->pr)
        return;
    /* The whole answer in one FastCGI record (up to 64 KiB), from the
     * pieces where they are: no copy of the events, no formatting. */
    if (!p->head_sent) {
        v[n].iov_base = (void *)LONGPOLL_HEAD;
        v[n++].iov_len = sizeof(LONGPOLL_HEAD) - 1;
    }
    p->head_sent = 1;
    v[n].iov_base = (void *)"{\"events\":[";
    v[n++].iov_len = 11;
    k = evbuffer_peek(p->events, -1, NULL, NULL, 0);
    if (k > LONGPOLL_EVENT_PIECES) {
        evbuffer_pullup(p->events, -1);
        k = 1;
    }
    n += evbuffer_peek(p->events, -1, NULL, v + n, k);
    v[n].iov_base = (void *)"],\"cursor\":\"";
    v[n++].iov_len = 12;
    v[n].iov_base = (void *)hub_sub_cursor_peek(p->sub, &clen);
    v[n++].iov_len = clen;
    v[n].iov_base = (void *)"\"}";
    v[n++].iov_len = 2;
    park_writev(p->pr, v, n);   /* a failure is the end too */
    poll_finish(p);
}

static void longpoll_event(struct hub_sub *s, const char *json, size_t len, void *arg)
{
    struct poll_req *p = arg;

    if (p->nevents++)
        evbuffer_add(p->events, ",", 1);
    evbuffer_add(p->events, json, len);
    if (evbuffer_get_length(p->events) >= LONGPOLL_ANSWER_MAX)
        hub_sub_hold(s);   /* answered at the flush, or when ready */
}

/* Answer with the first batch, but only once every channel is caught
 * up: an answer before that would carry a cursor without the channels
 * still being read. */
static void longpoll_flush(struct hub_sub *s, void *arg)
{
    struct poll_req *p = arg;

    (void)s;
    if (p->ready && p->nevents > 0)
        longpoll_answer(p);
}

static void longpoll_on_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct poll_req *p = arg;

    (void)fd;
    (void)what;
    p->srv->timeouts++;
    longpoll_answer(p);
}

static void longpoll_ready(struct hub_sub *s, void *arg)
{
    struct poll_req *p = arg;
    struct timeval tv = { p->timeout_s, 0 };

    (void)s;
    p->ready = 1;
    if (p->nevents > 0 || p->timeout_s == 0) {
        longpoll_answer(p);
        return;
    }
    /* Parked: headers now, body later (see the header comment). */
    p->head_sent = 1;
    if (park_write(p->pr, LONGPOLL_HEAD, sizeof(LONGPOLL_HEAD) - 1) < 0) {
        poll_finish(p);   /* gone already: park reports it no more */
        return;
    }
    p->timer = evtimer_new(p->srv->base, longpoll_on_timeout, p);
    evtimer_add(p->timer, &tv);
}

static void longpoll_failed(struct hub_sub *s, int err, void *arg)
{
    (void)s;
    poll_fail(arg, err, "live delivery is unavailable");
}

const struct hub_sub_ops poll_longpoll_ops = {
    .event = longpoll_event, .flush = longpoll_flush, .ready = longpoll_ready, .failed = longpoll_failed,
};

void poll_longpoll_end(struct poll_req *p)
{
    longpoll_answer(p);
}

void poll_longpoll_start(struct poll_req *p)
{
    p->events = evbuffer_new();
    p->srv->longpolls++;
}

/* Plain poll (timeout=0) and long-poll: one JSON answer
 * {"events":[…],"cursor"} as soon as there is something, else at the
 * timeout. While waiting only the headers have gone out: lighttpd then
 * reports a client that leaves by closing our connection. */
#include <stdlib.h>
#include <string.h>

#include "poll.h"

static void longpoll_answer(struct poll_req *p)
{
    struct evbuffer *b;
    char *cursor;

    if (!p->pr)
        return;
    /* The whole answer in one FastCGI record. */
    b = evbuffer_new();
    if (!p->head_sent)
        evbuffer_add_printf(b, "Status: 200 OK\r\nContent-Type: application/json\r\n"
                               "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\n");
    p->head_sent = 1;
    cursor = hub_sub_cursor(p->sub);
    evbuffer_add(b, "{\"events\":[", 11);
    evbuffer_add_buffer(b, p->events);
    evbuffer_add_printf(b, "],\"cursor\":\"%s\"}", cursor);
    park_write(p->pr, (const char *)evbuffer_pullup(b, -1), evbuffer_get_length(b));
    evbuffer_free(b);
    free(cursor);
    poll_finish(p);
}

static void longpoll_event(struct hub_sub *s, const char *json, size_t len, void *arg)
{
    struct poll_req *p = arg;

    (void)s;
    if (p->nevents++)
        evbuffer_add(p->events, ",", 1);
    evbuffer_add(p->events, json, len);
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
    park_printf(p->pr, "Status: 200 OK\r\nContent-Type: application/json\r\n"
                       "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\n");
    p->head_sent = 1;
    p->timer = evtimer_new(p->srv->base, longpoll_on_timeout, p);
    evtimer_add(p->timer, &tv);
}

static void longpoll_failed(struct hub_sub *s, int err, void *arg)
{
    (void)s;
    poll_fail(arg, err, "live delivery is unavailable");
}

const struct hub_sub_ops poll_longpoll_ops = {
    longpoll_event, longpoll_flush, longpoll_ready, longpoll_failed,
};

void poll_longpoll_start(struct poll_req *p)
{
    p->events = evbuffer_new();
    p->srv->longpolls++;
}

#include "sockout.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>

void sockout_init(struct bufferevent *bev)
{
    bufferevent_disable(bev, EV_WRITE);
}

int sockout_waiting(struct bufferevent *bev)
{
    return (bufferevent_get_enabled(bev) & EV_WRITE) != 0;
}

int sockout_flush(struct bufferevent *bev)
{
    struct evbuffer *out = bufferevent_get_output(bev);
    int n;

    if (sockout_waiting(bev) || evbuffer_get_length(out) == 0)
        return 0;
    /* A socket bufferevent keeps the start of its output frozen and thaws
     * it only around its own writes: do as it does. */
    evbuffer_unfreeze(out, 1);
    n = evbuffer_write(out, bufferevent_getfd(bev));
    evbuffer_freeze(out, 1);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        return -1;
    if (evbuffer_get_length(out) > 0)
        bufferevent_enable(bev, EV_WRITE);
    return 0;
}

void sockout_drained(struct bufferevent *bev)
{
    bufferevent_disable(bev, EV_WRITE);
}

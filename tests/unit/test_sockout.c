/* Unit tests for lib/sockout.c over a real socket pair on a real libevent
 * loop: a short write goes out at once with the write side left off; a
 * write the socket cannot take turns the write side on, the bufferevent
 * delivers the rest in order, and the drained callback hands writing back;
 * a write to a closed peer fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockout.h"

#define BIG (1024 * 1024)

struct pair {
    struct event_base *base;
    struct bufferevent *bev;
    int peer;
    int drained;   /* write callbacks seen */
};

static void on_write(struct bufferevent *bev, void *arg)
{
    struct pair *p = arg;

    p->drained++;
    sockout_drained(bev);
}

static int setup(void **state)
{
    struct pair *p = calloc(1, sizeof(*p));
    int sv[2], small = 4096;

    assert_non_null(p);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    evutil_make_socket_nonblocking(sv[0]);
    evutil_make_socket_nonblocking(sv[1]);
    p->base = event_base_new();
    assert_non_null(p->base);
    p->bev = bufferevent_socket_new(p->base, sv[0], BEV_OPT_CLOSE_ON_FREE);
    assert_non_null(p->bev);
    bufferevent_setcb(p->bev, NULL, on_write, NULL, p);
    sockout_init(p->bev);
    p->peer = sv[1];
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    struct pair *p = *state;

    bufferevent_free(p->bev);
    if (p->peer >= 0)
        close(p->peer);
    event_base_free(p->base);
    free(p);
    return 0;
}

static void test_sockout_short(void **state)
{
    struct pair *p = *state;
    char buf[64];

    assert_false(sockout_waiting(p->bev));
    evbuffer_add(bufferevent_get_output(p->bev), "hello", 5);
    /* Adding does not arm anything: the write side stays off. */
    assert_false(sockout_waiting(p->bev));
    assert_int_equal(sockout_flush(p->bev), 0);
    assert_int_equal(evbuffer_get_length(bufferevent_get_output(p->bev)), 0);
    assert_false(sockout_waiting(p->bev));
    assert_int_equal(read(p->peer, buf, sizeof(buf)), 5);
    assert_memory_equal(buf, "hello", 5);
    /* Nothing queued: nothing to do. */
    assert_int_equal(sockout_flush(p->bev), 0);
}

static void test_sockout_backlog(void **state)
{
    struct pair *p = *state;
    unsigned char *data = malloc(BIG + 4), *got = malloc(BIG + 4);
    size_t have = 0;

    assert_non_null(data);
    assert_non_null(got);
    for (size_t i = 0; i < BIG; i++)
        data[i] = (unsigned char)(i * 7 + i / 251);
    memcpy(data + BIG, "tail", 4);
    evbuffer_add(bufferevent_get_output(p->bev), data, BIG);
    assert_int_equal(sockout_flush(p->bev), 0);
    /* The socket took part of it: the bufferevent writes the rest. */
    assert_true(evbuffer_get_length(bufferevent_get_output(p->bev)) > 0);
    assert_true(sockout_waiting(p->bev));
    /* While it waits, a flush writes nothing (order stays the bufferevent's). */
    evbuffer_add(bufferevent_get_output(p->bev), "tail", 4);
    assert_int_equal(sockout_flush(p->bev), 0);
    for (int rounds = 0; rounds < 100000 && have < BIG + 4; rounds++) {
        ssize_t n = read(p->peer, got + have, BIG + 4 - have);
        if (n > 0)
            have += (size_t)n;
        event_base_loop(p->base, EVLOOP_NONBLOCK);
    }
    assert_int_equal(have, BIG + 4);
    assert_memory_equal(got, data, BIG + 4);
    /* Drained: the write callback ran and writing is ours again. */
    event_base_loop(p->base, EVLOOP_NONBLOCK);
    assert_true(p->drained >= 1);
    assert_false(sockout_waiting(p->bev));
    free(data);
    free(got);
}

static void test_sockout_peer_gone(void **state)
{
    struct pair *p = *state;
    int rc = 0;

    close(p->peer);
    p->peer = -1;
    /* The first write may still be accepted by the kernel; a later one fails. */
    for (int i = 0; i < 4 && rc == 0; i++) {
        evbuffer_add(bufferevent_get_output(p->bev), "x", 1);
        rc = sockout_flush(p->bev);
    }
    assert_int_equal(rc, -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sockout_short, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sockout_backlog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sockout_peer_gone, setup, teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

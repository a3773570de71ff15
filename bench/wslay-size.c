/* wslay-size — heap bytes taken by one wslay 1.1.1 server event context
 * (wslay_event_context_server_init), measured with mallinfo2() around
 * many inits; the floor of wsgate's per-connection memory that comes from
 * wslay. Build: make -C bench wslay-size; run: bench/wslay-size [N]. */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <wslay/wslay.h>

static ssize_t rcb(wslay_event_context_ptr c, uint8_t *b, size_t n, int f, void *u)
{
    (void)c; (void)b; (void)n; (void)f; (void)u;
    return -1;
}

static ssize_t scb(wslay_event_context_ptr c, const uint8_t *b, size_t n, int f, void *u)
{
    (void)c; (void)b; (void)f; (void)u;
    return (ssize_t)n;
}

static void mcb(wslay_event_context_ptr c, const struct wslay_event_on_msg_recv_arg *a, void *u)
{
    (void)c; (void)a; (void)u;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10000;
    struct wslay_event_callbacks cb = { rcb, scb, NULL, NULL, NULL, NULL, mcb };
    wslay_event_context_ptr *v = calloc((size_t)n, sizeof(*v));
    struct mallinfo2 a, b;
    size_t one_alloc_max = 0;

    if (!v)
        return 1;
    a = mallinfo2();
    for (int i = 0; i < n; i++)
        if (wslay_event_context_server_init(&v[i], &cb, NULL) != 0)
            return 1;
    b = mallinfo2();
    (void)one_alloc_max;
    printf("{\"contexts\":%d,\"heap_bytes\":%zu,\"bytes_per_context\":%.1f,\"mmap_bytes\":%zu}\n", n,
           (b.uordblks - a.uordblks), (double)(b.uordblks - a.uordblks) / n, b.hblkhd - a.hblkhd);
    for (int i = 0; i < n; i++)
        wslay_event_context_free(v[i]);
    free(v);
    return 0;
}

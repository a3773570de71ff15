#include "wsin.h"

#include <stdio.h>
#include <stdlib.h>

void wsin_ctx(struct wsin *in, const struct wslay_event_callbacks *cbs, void *user, uint64_t max_msg)
{
    if (in->ctx)
        return;
    if (wslay_event_context_server_init(&in->ctx, cbs, user) != 0) {
        fputs("out of memory\n", stderr);
        abort();
    }
    wslay_event_config_set_max_recv_msg_length(in->ctx, max_msg);
    in->fed = in->done = in->next = 0;
    in->frame = in->frag = 0;
}

void wsin_fed(struct wsin *in, size_t n)
{
    in->fed += n;
}

void wsin_frame_start(struct wsin *in, const struct wslay_event_on_frame_recv_start_arg *arg)
{
    uint64_t len = arg->payload_length;

    /* 2 header bytes, the extended length wslay insists is minimal, the
     * 4-byte mask, the payload. */
    in->next = in->done + 2 + (len < 126 ? 0 : len < 65536 ? 2 : 8) + 4 + len;
    in->frame = 1;
    /* Control frames may sit between the fragments of a message. */
    if (arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME ||
        arg->opcode == WSLAY_CONTINUATION_FRAME)
        in->frag = !arg->fin;
}

void wsin_frame_end(struct wsin *in)
{
    in->done = in->next;
    in->frame = 0;
}

int wsin_idle(const struct wsin *in)
{
    return in->ctx && !in->frame && !in->frag && in->fed == in->done &&
           wslay_event_want_read(in->ctx) && !wslay_event_want_write(in->ctx);
}

void wsin_release(struct wsin *in)
{
    if (in->ctx)
        wslay_event_context_free(in->ctx);
    in->ctx = NULL;
    in->fed = in->done = in->next = 0;
    in->frame = in->frag = 0;
}

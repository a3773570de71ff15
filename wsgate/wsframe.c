#include "wsframe.h"

#include <stdio.h>
#include <stdlib.h>
#include <wslay/wslay.h>

#include "err.h"
#include "xmalloc.h"

struct wsframe {
    wslay_frame_context_ptr ctx;
    struct evbuffer *out;      /* where the frame being built goes */
};

static void wsframe_oom(void)
{
    fputs("out of memory\n", stderr);
    abort();
}

/* wslay hands over the header, then each piece: all of it is taken, so
 * no frame is ever left half-sent in the shared context. */
static ssize_t wsframe_send_cb(const uint8_t *data, size_t len, int flags, void *user)
{
    struct wsframe *f = user;

    (void)flags;
    if (evbuffer_add(f->out, data, len) != 0)
        wsframe_oom();   /* libevent could not grow the buffer */
    return (ssize_t)len;
}

/* Server frames are unmasked; wslay asks for a mask only for masked ones. */
static int wsframe_genmask_cb(uint8_t *buf, size_t len, void *user)
{
    (void)buf;
    (void)len;
    (void)user;
    return -1;
}

int wsframe_new(struct wsframe **out)
{
    static const struct wslay_frame_callbacks cbs = { wsframe_send_cb, NULL, wsframe_genmask_cb };
    struct wsframe *f = xcalloc(1, sizeof(*f));

    if (wslay_frame_context_init(&f->ctx, &cbs, f) != 0)
        wsframe_oom();   /* its only failure is malloc's */
    *out = f;
    return 0;
}

void wsframe_free(struct wsframe *f)
{
    if (!f)
        return;
    if (f->ctx)
        wslay_frame_context_free(f->ctx);
    free(f);
}

long wsframe_add(struct wsframe *f, struct evbuffer *out, uint8_t opcode, const struct iovec *pieces,
                 int n)
{
    struct wslay_frame_iocb iocb = { 0 };
    size_t before = evbuffer_get_length(out), total = 0;

    for (int k = 0; k < n; k++)
        total += pieces[k].iov_len;
    iocb.fin = 1;
    iocb.opcode = opcode;
    iocb.payload_length = total;
    f->out = out;
    /* The first call writes the header and the first piece; the frame
     * layer then stays in its payload state until payload_length bytes
     * went through, one call per further piece. An empty piece after the
     * first would start a new frame once the payload is complete, so
     * those are skipped. wslay refuses only in the first call, before
     * writing anything. */
    iocb.data = n > 0 ? pieces[0].iov_base : NULL;
    iocb.data_length = n > 0 ? pieces[0].iov_len : 0;
    if (wslay_frame_send(f->ctx, &iocb) < 0) {
        f->out = NULL;
        return CHAT_ERR_INVALID;
    }
    for (int k = 1; k < n; k++) {
        if (pieces[k].iov_len == 0)
            continue;
        iocb.data = pieces[k].iov_base;
        iocb.data_length = pieces[k].iov_len;
        wslay_frame_send(f->ctx, &iocb);
    }
    f->out = NULL;
    return (long)(evbuffer_get_length(out) - before);
}

/* libFuzzer target for what follows the handshake: arbitrary bytes as a
 * client's frames, read by a wslay server context set up as wsgate sets
 * it up, every complete text or binary message run through wsop_parse.
 * The input is the raw byte stream a client would send, so a crash input
 * can be replayed against a running wsgate. Built by tests/fuzz/run.sh. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <wslay/wslay.h>

#include "wsop.h"

#define FUZZ_FRAMES_MAX_MSG (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_frames {
    const uint8_t *data;
    size_t size, pos;
    unsigned turn; /* picks the next chunk size */
};

/* Reads of varied small sizes, so frame headers and payloads are cut at
 * many points; WOULDBLOCK once the input is used up, as a socket would. */
static ssize_t fuzz_frames_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                                void *user)
{
    static const size_t chunks[] = { 1, 7, 2, 64, 3, 1500, 5, 11 };
    struct fuzz_frames *f = user;
    size_t n = chunks[f->turn++ % (sizeof chunks / sizeof chunks[0])];

    (void)flags;
    if (f->pos >= f->size) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (n > len)
        n = len;
    if (n > f->size - f->pos)
        n = f->size - f->pos;
    memcpy(buf, f->data + f->pos, n);
    f->pos += n;
    return (ssize_t)n;
}

static ssize_t fuzz_frames_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
                                int flags, void *user)
{
    (void)ctx;
    (void)data;
    (void)flags;
    (void)user;
    return (ssize_t)len;
}

/* As wsconn_on_msg, with the answers replaced by checks of wsop.h. */
static void fuzz_frames_on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                               void *user)
{
    struct wsop op;

    (void)ctx;
    (void)user;
    if (arg->opcode != WSLAY_TEXT_FRAME && arg->opcode != WSLAY_BINARY_FRAME)
        return;
    if (arg->msg_length > FUZZ_FRAMES_MAX_MSG)
        abort();   /* the configured limit let a bigger message through */
    wsop_parse(arg->opcode, arg->msg, arg->msg_length, &op);
    switch (op.kind) {
    case WSOP_CLOSE:
        if ((op.close_code != 1003 && op.close_code != 1007) || op.json || !op.why)
            abort();
        if ((op.close_code == 1003) != (arg->opcode == WSLAY_BINARY_FRAME))
            abort();
        break;
    case WSOP_ERROR:
        if (!op.why || arg->opcode != WSLAY_TEXT_FRAME)
            abort();
        break;
    case WSOP_PING:
    case WSOP_SEND:
    case WSOP_TYPING:
    case WSOP_RESUME:
        if (op.why || !cJSON_IsObject(op.json) ||
            !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(op.json, "op")))
            abort();
        break;
    default:
        abort();
    }
    wsop_free(&op);
    if (op.json)
        abort();
}

static const struct wslay_event_callbacks fuzz_frames_callbacks = {
    fuzz_frames_recv, fuzz_frames_send, NULL, NULL, NULL, NULL, fuzz_frames_on_msg,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_frames f = { data, size, 0, 0 };
    wslay_event_context_ptr ctx = NULL;
    size_t turns;

    if (wslay_event_context_server_init(&ctx, &fuzz_frames_callbacks, &f) != 0)
        abort();
    wslay_event_config_set_max_recv_msg_length(ctx, FUZZ_FRAMES_MAX_MSG);
    /* Each turn reads until WOULDBLOCK or until wslay stops reading (a
     * close or a protocol error); the bound only guards against a loop. */
    for (turns = 0; turns <= size + 1 && wslay_event_want_read(ctx); turns++) {
        size_t before = f.pos;
        if (wslay_event_recv(ctx) != 0)
            break;
        if (wslay_event_want_write(ctx) && wslay_event_send(ctx) != 0)
            break;
        if (f.pos >= f.size || f.pos == before)
            break;
    }
    /* Whatever was queued (pongs, the close) goes out before the end. */
    if (wslay_event_want_write(ctx))
        wslay_event_send(ctx);
    wslay_event_context_free(ctx);
    return 0;
}

/* libFuzzer target for what follows the handshake: arbitrary bytes as a
 * client's frames, read by a wslay server context set up as wsgate sets
 * it up, every complete text or binary message run through wsop_parse.
 *
 * Each input is read twice: once by one context that lives throughout,
 * and once as wsgate reads it, with the context made on demand and
 * dropped whenever wsin says it is idle (wsgate/wsin.c). The reads run
 * dry at the same places in both (as a socket does between packets), and
 * both must see the same messages, control frames and end: dropping the
 * context must never lose or change anything.
 *
 * The input is the raw byte stream a client would send, so a crash input
 * can be replayed against a running wsgate. Built by tests/fuzz/run.sh. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <wslay/wslay.h>

#include "wsin.h"
#include "wsop.h"

#define FUZZ_FRAMES_MAX_MSG (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What a read saw, in order: one record per message or control frame
 * (opcode, length, bytes), so two reads can be compared. */
struct fuzz_log {
    uint8_t *buf;
    size_t len, cap;
};

struct fuzz_frames {
    const uint8_t *data;
    size_t size, pos;
    unsigned turn;     /* picks the next chunk size */
    unsigned calls;    /* recv calls, for the dry points */
    int dry;           /* this turn's input has run out */
    struct wsin in;    /* the on-demand read only */
    int on_demand;
    struct fuzz_log log;
};

static void fuzz_log_add(struct fuzz_log *l, const void *p, size_t n)
{
    if (l->len + n > l->cap) {
        size_t cap = l->cap ? l->cap : 256;
        while (cap < l->len + n)
            cap *= 2;
        l->buf = realloc(l->buf, cap);
        if (!l->buf)
            abort();
        l->cap = cap;
    }
    memcpy(l->buf + l->len, p, n);
    l->len += n;
}

/* Reads of varied small sizes, so frame headers and payloads are cut at
 * many points; WOULDBLOCK once the input is used up, and every few reads
 * (where a socket would have nothing more for now). */
static ssize_t fuzz_frames_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                                void *user)
{
    static const size_t chunks[] = { 1, 7, 2, 64, 3, 1500, 5, 11 };
    struct fuzz_frames *f = user;
    size_t n = chunks[f->turn++ % (sizeof chunks / sizeof chunks[0])];

    (void)flags;
    if (f->pos >= f->size || f->dry || ++f->calls % 3 == 0) {
        f->dry = 1;
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (n > len)
        n = len;
    if (n > f->size - f->pos)
        n = f->size - f->pos;
    memcpy(buf, f->data + f->pos, n);
    f->pos += n;
    if (f->on_demand)
        wsin_fed(&f->in, n);
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
    struct fuzz_frames *f = user;
    uint64_t len = arg->msg_length;
    struct wsop op;

    (void)ctx;
    fuzz_log_add(&f->log, &arg->opcode, 1);
    fuzz_log_add(&f->log, &len, sizeof(len));
    if (arg->msg_length)
        fuzz_log_add(&f->log, arg->msg, arg->msg_length);
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

static void fuzz_frames_start(wslay_event_context_ptr ctx, const struct wslay_event_on_frame_recv_start_arg *arg,
                              void *user)
{
    struct fuzz_frames *f = user;

    (void)ctx;
    if (f->on_demand)
        wsin_frame_start(&f->in, arg);
}

static void fuzz_frames_end(wslay_event_context_ptr ctx, void *user)
{
    struct fuzz_frames *f = user;

    (void)ctx;
    if (f->on_demand)
        wsin_frame_end(&f->in);
}

static const struct wslay_event_callbacks fuzz_frames_callbacks = {
    fuzz_frames_recv, fuzz_frames_send, NULL, fuzz_frames_start, NULL, fuzz_frames_end,
    fuzz_frames_on_msg,
};

/* One read of the whole input; on_demand: as wsgate does it. Logs what it
 * saw and how it ended. */
static void fuzz_frames_read(struct fuzz_frames *f)
{
    wslay_event_context_ptr ctx = NULL;
    uint8_t end = 0;
    size_t turns;

    if (!f->on_demand) {
        if (wslay_event_context_server_init(&ctx, &fuzz_frames_callbacks, f) != 0)
            abort();
        wslay_event_config_set_max_recv_msg_length(ctx, FUZZ_FRAMES_MAX_MSG);
    }
    /* Each turn reads until WOULDBLOCK or until wslay stops reading (a
     * close or a protocol error); the bound only guards against a loop. */
    for (turns = 0; turns <= 4 * f->size + 4; turns++) {
        if (f->on_demand) {
            wsin_ctx(&f->in, &fuzz_frames_callbacks, f, FUZZ_FRAMES_MAX_MSG);
            ctx = f->in.ctx;
        }
        if (!wslay_event_want_read(ctx))
            break;
        f->dry = 0;
        if (wslay_event_recv(ctx) != 0) {
            end = 1;
            break;
        }
        if (wslay_event_want_write(ctx) && wslay_event_send(ctx) != 0) {
            end = 2;
            break;
        }
        if (f->on_demand && wsin_idle(&f->in)) {
            wsin_release(&f->in);
            ctx = NULL;
        }
        if (f->pos >= f->size)
            break;
    }
    if (ctx) {
        /* Whatever was queued (pongs, the close) goes out before the end. */
        if (wslay_event_want_write(ctx))
            wslay_event_send(ctx);
        end |= (uint8_t)(wslay_event_get_close_sent(ctx) ? 4 : 0);
        end |= (uint8_t)(wslay_event_get_close_received(ctx) ? 8 : 0);
    }
    fuzz_log_add(&f->log, &end, 1);
    if (f->on_demand)
        wsin_release(&f->in);
    else
        wslay_event_context_free(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_frames a = { 0 }, b = { 0 };

    a.data = b.data = data;
    a.size = b.size = size;
    b.on_demand = 1;
    fuzz_frames_read(&a);
    fuzz_frames_read(&b);
    if (a.log.len != b.log.len || memcmp(a.log.buf, b.log.buf, a.log.len) != 0 || a.pos != b.pos)
        abort();   /* dropping the context between frames changed the read */
    free(a.log.buf);
    free(b.log.buf);
    return 0;
}

/* wsin — the reading side of one WebSocket connection: wslay's event
 * context, made when bytes arrive and dropped again as soon as it holds
 * nothing. The context is 8.6 KiB (two fixed 4 KiB buffers), most of what
 * an idle connection would cost; an idle socket needs none of it.
 *
 * wslay keeps no public "between frames" state, so wsin counts: the bytes
 * handed to wslay, and where each frame ends (its header size follows
 * from its payload length; client frames are always masked — wslay closes
 * the connection on an unmasked one before any frame callback). All read
 * bytes formed whole frames when both counts meet and no frame is open.
 *
 * The owner's wslay callbacks report to wsin: the recv callback calls
 * wsin_fed, the frame start/end callbacks wsin_frame_start/_end. No I/O
 * here; not thread-safe. */
#ifndef SB_WSIN_H
#define SB_WSIN_H
#include <stddef.h>
#include <stdint.h>
#include <wslay/wslay.h>

struct wsin {
    wslay_event_context_ptr ctx;   /* NULL while idle */
    unsigned long long fed;        /* bytes handed to ctx */
    unsigned long long done;       /* bytes of the frames it finished */
    unsigned long long next;       /* where the open frame ends */
    unsigned frame : 1;            /* a frame is open */
    unsigned frag : 1;             /* a fragmented message is unfinished */
};

/* Makes in->ctx if there is none, with the owner's callbacks, user
 * pointer and message size limit. wslay fails only when malloc does:
 * that aborts, as xmalloc does. */
void wsin_ctx(struct wsin *in, const struct wslay_event_callbacks *cbs, void *user, uint64_t max_msg);

/* From the callbacks, as above. */
void wsin_fed(struct wsin *in, size_t n);
void wsin_frame_start(struct wsin *in, const struct wslay_event_on_frame_recv_start_arg *arg);
void wsin_frame_end(struct wsin *in);

/* True if the context exists and holds nothing: every byte read formed
 * whole frames, no fragmented message waits for its end, nothing is
 * queued to send, and it still reads (no close under way). */
int wsin_idle(const struct wsin *in);

/* Frees the context (if any) and resets the counts; wsin may be zeroed. */
void wsin_release(struct wsin *in);

#endif

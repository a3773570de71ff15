/* wsframe — the frames wsgate sends, built by wslay's frame layer
 * (wslay_frame_send) with one frame context for the whole process and
 * appended to a connection's output buffer.
 *
 * Why not wslay's event layer for output: it copies every message into
 * its queue and again into a 4 KiB buffer that each connection owns for
 * its whole life. Server frames are never masked, so the frame layer
 * writes the header and then the payload pieces as they are, and its
 * state returns to "no frame in progress" after every call here: one
 * context serves every connection. A connection's wslay event context is
 * then only needed while it reads (see wsconn.c).
 *
 * Runs on the gateway's loop; not thread-safe. */
#ifndef SB_WSFRAME_H
#define SB_WSFRAME_H
#include <event2/buffer.h>
#include <stdint.h>
#include <sys/uio.h>

struct wsframe;

/* Returns 0 and sets *out (out of memory aborts, as xmalloc does). */
int wsframe_new(struct wsframe **out);
void wsframe_free(struct wsframe *f);   /* NULL is fine */

/* Appends one final, unmasked frame of opcode (WSLAY_TEXT_FRAME,
 * WSLAY_PING, …) to out; its payload is the n pieces in order (n may be
 * 0). Returns the bytes appended, or CHAT_ERR_INVALID if wslay refuses
 * the frame (a control frame over 125 bytes) — out is then unchanged. */
long wsframe_add(struct wsframe *f, struct evbuffer *out, uint8_t opcode, const struct iovec *pieces,
                 int n);

#endif

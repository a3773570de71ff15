/* cursor — the client's position in every channel it follows: per
 * channel the epoch and the last id delivered. Opaque to clients: the
 * encoded form is base64url (no padding) of lines "<chan> <epoch> <id>\n".
 * The cursor says where to start, never what to follow: servers follow
 * the user's inbox and joined rooms and ignore entries for anything else. */
#ifndef SB_CURSOR_H
#define SB_CURSOR_H
#include <stddef.h>
#include "keys.h"

#define EPOCH_MAX 24          /* epoch strings are up to 16 hex digits */
#define CURSOR_MAX_CHANS 1024 /* decoding rejects more entries */
#define CURSOR_MAX_LEN 131072 /* decoding rejects longer strings */

struct cursor_pos {
    char chan[CHAN_MAX];
    char epoch[EPOCH_MAX];     /* "" = channel had no epoch yet */
    long long id;              /* last id delivered, >= 0 */
};

struct cursor {
    struct cursor_pos *pos;    /* owned */
    int n, cap;
};

void cursor_init(struct cursor *c);
void cursor_free(struct cursor *c);       /* c may be zeroed; re-usable after */

/* Adds or replaces the entry for chan. Returns 0 or CHAT_ERR_INVALID for a
 * chan or epoch that is too long or holds a space or newline. */
int cursor_set(struct cursor *c, const char *chan, const char *epoch, long long id);
/* The entry for chan, or NULL. The pointer is valid until the next set. */
const struct cursor_pos *cursor_find(const struct cursor *c, const char *chan);

/* Longest line one channel takes in the text that is encoded. */
#define CURSOR_LINE_MAX (CHAN_MAX + EPOCH_MAX + 24)

/* A new string the caller frees. */
char *cursor_encode(const struct cursor *c);

/* The same encoding in pieces, for callers that keep positions elsewhere
 * and encode often (one cursor per delivered event): cursor_line writes
 * one channel's line ("<chan> <epoch> <id>\n", no NUL) to out, which has
 * room for CURSOR_LINE_MAX bytes, and returns its length; the lines of all
 * channels, sorted by chan, are the text. cursor_encode_text writes the
 * encoded text and a NUL to out, which holds cursor_encoded_len(len) + 1
 * bytes, and returns the length without the NUL. Lines for the positions
 * of a struct cursor give exactly cursor_encode's string. */
size_t cursor_line(char *out, const char *chan, const char *epoch, long long id);
size_t cursor_encoded_len(size_t textlen);
size_t cursor_encode_text(char *out, const char *text, size_t len);
/* Replaces c's content with the decoded s. Returns 0 or CHAT_ERR_INVALID
 * (bad base64url, bad line, negative id, duplicate or too many channels,
 * too long); on error c is left empty. */
int cursor_decode(struct cursor *c, const char *s);

#endif

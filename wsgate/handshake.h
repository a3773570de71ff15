/* handshake — the WebSocket opening handshake (RFC 6455 section 4): a
 * parser of the client's upgrade request and the server's accept key.
 * Pure functions over a buffer: no I/O, so they are unit-tested and
 * fuzzed directly. */
#ifndef SB_HANDSHAKE_H
#define SB_HANDSHAKE_H
#include <stddef.h>

#define HANDSHAKE_ACCEPT_LEN 28   /* base64 of a SHA-1 */

/* Pointers into a copy the caller keeps (the parser NUL-terminates
 * fields in place). Absent headers are NULL. */
struct handshake {
    char *path;          /* without the query */
    char *query;         /* "" if none */
    char *key;           /* Sec-WebSocket-Key */
    char *origin;
    char *cookie;
    char *authorization;
    char *host;
};

/* Parses the request in buf (len bytes, ending with the blank line;
 * modified in place). Returns 0, or the HTTP status to refuse with:
 * 400 (malformed, missing or bad Upgrade/Connection/key), 405 (not GET),
 * 426 (version is not 13: answer with Sec-WebSocket-Version: 13). *why
 * gets a static reason. */
int handshake_parse(char *buf, size_t len, struct handshake *hs, const char **why);

/* Length of the request head if buf holds a complete one ("\r\n\r\n"
 * seen), else 0. */
size_t handshake_head_len(const char *buf, size_t len);

/* The Sec-WebSocket-Accept value for key (HANDSHAKE_ACCEPT_LEN + 1). */
void handshake_accept(const char *key, char out[HANDSHAKE_ACCEPT_LEN + 1]);

#endif

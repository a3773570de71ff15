/* libFuzzer target for wsgate/handshake.c: arbitrary bytes as the start
 * of a connection. Runs the path wsconn takes (find the head, parse a
 * NUL-terminated copy of it, answer the key) and, outside the contract,
 * the parser on the whole input, then checks what the header promises.
 * A broken promise aborts, so libFuzzer keeps the input. Built by
 * tests/fuzz/run.sh. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "handshake.h"
#include "xmalloc.h"

#define FUZZ_HANDSHAKE_MAX (16 * 1024) /* wsgate's ws_max_header is below this */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_handshake_inside(const char *field, const char *buf, size_t len)
{
    return !field ||
           (field >= buf && field < buf + len && memchr(field, '\0', (size_t)(buf + len - field)));
}

/* Parses len bytes of buf (modified; a copy of in) and checks the result. */
static void fuzz_handshake_parse(char *buf, const uint8_t *in, size_t len)
{
    char accept[HANDSHAKE_ACCEPT_LEN + 1];
    struct handshake hs;
    const char *why = NULL;
    int status = handshake_parse(buf, len, &hs, &why);

    if (!why)
        abort();
    if (status != 0) {
        if (status != 400 && status != 405 && status != 426)
            abort();
        return;
    }
    if (len < 4 || memcmp(in + len - 4, "\r\n\r\n", 4) != 0)
        abort();   /* accepted without its blank line */
    if (!hs.path || !hs.query || !hs.key || hs.path[0] != '/' || strchr(hs.path, '?') ||
        strlen(hs.key) != 24)
        abort();
    if (!fuzz_handshake_inside(hs.path, buf, len) || !fuzz_handshake_inside(hs.key, buf, len) ||
        !fuzz_handshake_inside(hs.host, buf, len) || !fuzz_handshake_inside(hs.origin, buf, len) ||
        !fuzz_handshake_inside(hs.cookie, buf, len) ||
        !fuzz_handshake_inside(hs.authorization, buf, len) ||
        (hs.query[0] && !fuzz_handshake_inside(hs.query, buf, len)))
        abort();
    memset(accept, 'x', sizeof accept);
    handshake_accept(hs.key, accept);
    if (strlen(accept) != HANDSHAKE_ACCEPT_LEN)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len = size < FUZZ_HANDSHAKE_MAX ? size : FUZZ_HANDSHAKE_MAX;
    size_t head;
    char *buf;

    /* As wsconn_on_read: look for the head in what arrived. */
    buf = xmalloc(len + 1);
    memcpy(buf, data, len);
    buf[len] = '\0';
    head = handshake_head_len(buf, len);
    if (head > len || (head && (head < 4 || memcmp(buf + head - 4, "\r\n\r\n", 4) != 0)))
        abort();
    if (head) {
        /* As wsconn_on_head: a NUL-terminated copy of the head alone. */
        char *copy = xmalloc(head + 1);
        memcpy(copy, buf, head);
        copy[head] = '\0';
        fuzz_handshake_parse(copy, data, head);
        free(copy);
    }
    free(buf);

    /* The whole input, in a buffer of exactly its length: the parser must
     * stay inside len whatever it is given. */
    buf = xmalloc(len);
    memcpy(buf, data, len);
    fuzz_handshake_parse(buf, data, len);
    free(buf);
    return 0;
}

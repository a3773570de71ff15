/* wsop — what a client's WebSocket message asks for: the checks every
 * message goes through (text only, valid UTF-8, a JSON object with a
 * known op) as a pure function, so it is unit-tested and fuzzed without
 * a socket. */
#ifndef SB_WSOP_H
#define SB_WSOP_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

enum wsop_kind {
    WSOP_PING, WSOP_SEND, WSOP_TYPING, WSOP_RESUME,
    WSOP_ERROR,   /* answer with an error message, keep the connection */
    WSOP_CLOSE    /* close the connection with close_code */
};

struct wsop {
    enum wsop_kind kind;
    uint16_t close_code;     /* with WSOP_CLOSE: 1003 binary, 1007 bad UTF-8 */
    const char *why;         /* static text for the error or close */
    cJSON *json;             /* the parsed op (owned) for the others */
};

/* opcode: the WebSocket opcode of a complete message (1 text, 2 binary).
 * Fills op; free it with wsop_free. */
void wsop_parse(uint8_t opcode, const uint8_t *msg, size_t len, struct wsop *op);
void wsop_free(struct wsop *op);

#endif

/* err — the one error vocabulary of lib/: functions return 0 or a negative
 * CHAT_ERR_*. Programs map these to HTTP statuses and close codes. */
#ifndef SB_ERR_H
#define SB_ERR_H

enum chat_err {
    CHAT_OK = 0,
    CHAT_ERR_INVALID = -1,     /* bad input: 400 bad_request */
    CHAT_ERR_UNAUTH = -2,      /* no or bad session/password: 401 */
    CHAT_ERR_FORBIDDEN = -3,   /* 403 */
    CHAT_ERR_NOTFOUND = -4,    /* 404 */
    CHAT_ERR_CONFLICT = -5,    /* 409 */
    CHAT_ERR_TOOBIG = -6,      /* 413 */
    CHAT_ERR_TYPE = -7,        /* 415 unsupported media type */
    CHAT_ERR_RATE = -8,        /* 429 */
    CHAT_ERR_UNAVAILABLE = -9, /* Redis unreachable: 503 */
    CHAT_ERR_INTERNAL = -10,   /* a bug or an unexpected reply: 500 */
    CHAT_ERR_IO = -11          /* a local I/O failure: 500 */
};

/* Static strings; never NULL, "internal" for unknown values. */
const char *err_code(int err);      /* the PROTOCOL.md word: "bad_request" */
int err_http_status(int err);       /* 400, 401, ...; 500 for unknown */

#endif

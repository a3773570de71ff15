/* err — the mapping from CHAT_ERR_* to the words and statuses of
 * PROTOCOL.md, kept in one table so HTTP and WebSocket agree. */
#include "err.h"

#include <stddef.h>

struct err_entry {
    int err;
    const char *code;
    int status;
};

static const struct err_entry err_table[] = {
    {CHAT_OK, "ok", 200},
    {CHAT_ERR_INVALID, "bad_request", 400},
    {CHAT_ERR_UNAUTH, "unauthorized", 401},
    {CHAT_ERR_FORBIDDEN, "forbidden", 403},
    {CHAT_ERR_NOTFOUND, "not_found", 404},
    {CHAT_ERR_CONFLICT, "conflict", 409},
    {CHAT_ERR_TOOBIG, "too_large", 413},
    {CHAT_ERR_TYPE, "unsupported_media_type", 415},
    {CHAT_ERR_RATE, "rate_limited", 429},
    {CHAT_ERR_UNAVAILABLE, "unavailable", 503},
    {CHAT_ERR_INTERNAL, "internal", 500},
    {CHAT_ERR_IO, "internal", 500},
};

static const struct err_entry *err_find(int err)
{
    size_t i;

    for (i = 0; i < sizeof err_table / sizeof err_table[0]; i++)
        if (err_table[i].err == err)
            return &err_table[i];
    return NULL;
}

const char *err_code(int err)
{
    const struct err_entry *e = err_find(err);
    return e ? e->code : "internal";
}

int err_http_status(int err)
{
    const struct err_entry *e = err_find(err);
    return e ? e->status : 500;
}

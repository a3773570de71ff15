/* message — sending (to a user or a room, atomically, idempotent by cid)
 * and reading a conversation's history. Shared by chat-api and wsgate. */
#ifndef SB_MESSAGE_H
#define SB_MESSAGE_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include "rdb.h"
#include "user.h"

#define HISTORY_LIMIT_MAX 200
#define HISTORY_LIMIT_DEFAULT 50
#define MESSAGE_HISTORY_ROUNDS 8   /* reads to fill a page past presence events */

struct message_in {
    const char *to;          /* a user name, or NULL */
    const char *room;        /* a room name, or NULL; exactly one of the two */
    const char *text;
    size_t text_len;
    const char *cid;         /* client id, or NULL */
    const char *att_url;     /* an uploaded file ("/api/media/<hash>"), or
                                NULL; with one, text may be empty */
};

struct message_out {
    long long id;                      /* id in the conversation's history */
    long long ts;                      /* ms since the epoch */
    char conv[NAME_MAX_LEN + 2];       /* "bob" or "#lobby" */
    int retry_after;                   /* seconds, with CHAT_ERR_RATE */
};

/* Sends, subject to the per-user send rate limit. A repeated cid returns
 * the first send's result and stores nothing. Errors: CHAT_ERR_INVALID
 * (fields, UTF-8, message to oneself), CHAT_ERR_TOOBIG (text over
 * max_text), CHAT_ERR_NOTFOUND (no such user or room), CHAT_ERR_FORBIDDEN
 * (room not joined), CHAT_ERR_RATE. An unknown attachment is
 * CHAT_ERR_INVALID; a known one is described from the server's record,
 * never from what the client claims. */
int message_send(struct rdb *db, const struct user_id *from, const struct message_in *in,
                 struct message_out *out);

/* The caller's view of a conversation ("bob" or "#lobby"): events with
 * id < before (0 = up to the newest), the newest `limit` of them, oldest
 * first, and nothing the caller deleted. *out = {"messages":[…],"more":b}.
 * CHAT_ERR_INVALID (bad conv), CHAT_ERR_NOTFOUND (no such user/room). */
int message_history(struct rdb *db, const struct user_id *me, const char *conv,
                    long long before, int limit, cJSON **out);

#endif

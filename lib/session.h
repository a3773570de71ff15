/* session — login sessions: 256-bit random tokens handed to the client,
 * stored in Redis only as their BLAKE2b hash (a dump of Redis does not
 * leak usable tokens), with a TTL refreshed on use. */
#ifndef SB_SESSION_H
#define SB_SESSION_H
#include "rdb.h"
#include "keys.h"
#include "user.h"

#define SESSION_TOKEN_LEN 64   /* hex characters */

/* Creates a session for id; token gets the new token. */
int session_create(struct rdb *db, const struct user_id *id, char token[SESSION_TOKEN_LEN + 1]);

/* Resolves a token to its user and refreshes the TTL. CHAT_ERR_UNAUTH for
 * a malformed, unknown or expired token. */
int session_lookup(struct rdb *db, const char *token, struct user_id *id);

/* Deletes one session (CHAT_ERR_UNAUTH if unknown), or all of a user's. */
int session_delete(struct rdb *db, const char *token);
int session_delete_all(struct rdb *db, const struct user_id *id);

/* The Redis key of a token's session. */
int session_key(const char *prefix, const char *token, char out[KEY_MAX]);

/* The pub/sub channel on which every deleted session's key is published
 * (wsgate closes that session's sockets with 4001). */
void session_logout_channel(const char *prefix, char out[KEY_MAX]);

#endif

/* conv — a user's conversations: the list (DMs and joined rooms, newest
 * first, with last event, unread count and presence), read marks, and
 * deleting a conversation for one side only. */
#ifndef SB_CONV_H
#define SB_CONV_H
#include <cjson/cJSON.h>
#include "rdb.h"
#include "user.h"

#define CONV_LIST_MAX 500       /* DM conversations listed */
#define CONV_UNREAD_SCAN 100    /* room events scanned for an unread count */
#define CONV_UNREAD_SCAN_DM 1000 /* DM entries scanned when a read mark moves */

/* *out = {"conversations":[{"conv","last","unread","online"?}]}; "online"
 * only for direct chats. */
int conv_list(struct rdb *db, const struct user_id *me, cJSON **out);

/* Marks conv read up to id upto and pushes a `read` event to me's inbox.
 * CHAT_ERR_INVALID (bad conv, or upto past the last id),
 * CHAT_ERR_NOTFOUND (no such user/room). */
int conv_read(struct rdb *db, const struct user_id *me, const char *conv, long long upto);

/* Hides conv from me (not from the peer) until a newer message arrives,
 * and pushes a `conv_deleted` event to me's inbox. */
int conv_delete(struct rdb *db, const struct user_id *me, const char *conv);

#endif

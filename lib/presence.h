/* presence — who is online: a sorted set of lower-cased user -> expiry
 * (ms). The live transports (chat-poll, wsgate) keep it fresh; readers
 * only compare the expiry with the clock. */
#ifndef SB_PRESENCE_H
#define SB_PRESENCE_H
#include <cjson/cJSON.h>
#include <stdbool.h>
#include "rdb.h"
#include "user.h"

#define PRESENCE_MAX_USERS 200   /* names in one ?users= query */

/* online[i] = whether lnames[i] is online now. n may be 0. */
int presence_check(struct rdb *db, const char *const *lnames, int n, bool *online);

/* *out = {"online":[names]}: the online ones among users_csv (a comma list
 * of names; CHAT_ERR_INVALID if one is bad or there are more than
 * PRESENCE_MAX_USERS), or, with users_csv NULL, among me's DM contacts and
 * the members of me's rooms. Names are given as registered. */
int presence_online(struct rdb *db, const struct user_id *me, const char *users_csv, cJSON **out);

#endif

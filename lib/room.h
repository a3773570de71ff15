/* room — public rooms: create, look up, list, join, leave. Membership is
 * kept both ways (room -> members, user -> rooms) by the scripts, and every
 * join and leave is an event in the room's channel. */
#ifndef SB_ROOM_H
#define SB_ROOM_H
#include <cjson/cJSON.h>
#include "rdb.h"
#include "user.h"

#define ROOM_TITLE_MAX 200   /* bytes of UTF-8 */

/* The room's name as created, from a name in any case. CHAT_ERR_INVALID
 * (bad name) or CHAT_ERR_NOTFOUND. */
int room_lookup(struct rdb *db, const char *name, char display[NAME_MAX_LEN + 1]);

/* Creates a room (title NULL or "" = the name) and joins the creator
 * (me NULL: no creator, no member; for chatctl).
 * *out = {"room","title"} (caller frees). CHAT_ERR_CONFLICT if taken. */
int room_create(struct rdb *db, const struct user_id *me, const char *name,
                const char *title, cJSON **out);

/* Deletes a room (chatctl): the room, its members' links, its history. */
int room_delete(struct rdb *db, const char *name);

/* *out = {"rooms":[{"room","title","members","joined"}]} sorted by name. */
int room_list(struct rdb *db, const struct user_id *me, cJSON **out);

/* 0 also when already a member / not a member (no event then).
 * CHAT_ERR_NOTFOUND for an unknown room. */
int room_join(struct rdb *db, const struct user_id *me, const char *name);
int room_leave(struct rdb *db, const struct user_id *me, const char *name);

/* *out = array of the display names of the rooms me has joined, sorted. */
int room_joined(struct rdb *db, const struct user_id *me, cJSON **out);

#endif

/* follow — what a user's live connection follows: their inbox and every
 * room they have joined now. A cursor only says where to start in each;
 * it never adds a channel, so a forged cursor cannot widen what a user
 * receives. */
#ifndef SB_FOLLOW_H
#define SB_FOLLOW_H
#include <cjson/cJSON.h>
#include "cursor.h"
#include "rdb.h"
#include "user.h"

struct follow {
    char (*chans)[CHAN_MAX];   /* owned; chans[0] is the inbox */
    int n;
    cJSON *rooms;              /* owned array of joined room names */
};

/* Loads the channels me follows now. follow_free accepts a zeroed f. */
int follow_load(struct rdb *db, const struct user_id *me, struct follow *f);
void follow_free(struct follow *f);

/* A cursor at the head of every followed channel ("now"): a new string
 * the caller frees. */
int follow_cursor_now(struct rdb *db, const struct follow *f, char **cursor);

#endif

/* chan — a channel: a Redis list of events with consecutive ids, a seq
 * counter and an epoch (see DESIGN.md "Redis model"). Reading is one
 * script call (index arithmetic, never a scan); appending goes through the
 * same prelude helper every writing script uses. */
#ifndef SB_CHAN_H
#define SB_CHAN_H
#include <cjson/cJSON.h>
#include "cursor.h"
#include "rdb.h"

#define CHAN_EPOCH_LEN 16

/* Events read from one channel. */
struct chan_range {
    char epoch[EPOCH_MAX];   /* "" if the channel was never written */
    long long seq;           /* last id allocated (0 = empty) */
    long long first;         /* first id still kept (seq + 1 if none) */
    cJSON *events;           /* array of event objects, owned; id order */
};

/* A fresh random epoch (CHAN_EPOCH_LEN hex digits + NUL). */
void chan_new_epoch(char out[CHAN_EPOCH_LEN + 1]);

/* Events with after < id < before (before 0: no upper bound), at most
 * limit of them: the newest ones if newest, else the oldest. On 0 the
 * caller owns r->events (free with chan_range_free). Entries that are not
 * JSON objects are skipped (logged). */
int chan_read(struct rdb *db, const char *chan, long long after, long long before,
              int limit, int newest, struct chan_range *r);
void chan_range_free(struct chan_range *r);

/* Appends an event {"type","chan","id","ts",<members>} to chan, trimming
 * it to cap. members: from event_members(), may be "". *id (may be NULL)
 * gets the new id. */
int chan_push(struct rdb *db, const char *chan, const char *type, const char *members,
              int cap, long long *id);

#endif

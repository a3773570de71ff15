/* ratelimit — fixed-window counters in Redis, shared by every process. */
#ifndef SB_RATELIMIT_H
#define SB_RATELIMIT_H
#include "rdb.h"

/* Adds amount (0 = only look) to the counter of (kind, subject) in a
 * window of window_s seconds. Returns 0 while the count stays <= max,
 * CHAT_ERR_RATE once past it, with *retry_after set to the whole seconds
 * left in the window (at least 1). */
int ratelimit_hit(struct rdb *db, const char *kind, const char *subject,
                  int amount, int max, int window_s, int *retry_after);

#endif

/* online — presence fed by live connections (chat-poll, wsgate). A user
 * with at least one connection in this process has their expiry in the
 * presence set pushed out every refresh; when the last one closes the
 * process simply stops, so the user goes offline only after the grace
 * period, and a page reload inside it changes nothing. Transitions are
 * announced with `presence` events to the user's DM contacts' inboxes and
 * to their rooms: online by the process that saw the first connection,
 * offline by whichever process takes the expired entry off the set. */
#ifndef SB_ONLINE_H
#define SB_ONLINE_H
#include <event2/event.h>
#include "ardb.h"
#include "config.h"
#include "user.h"

struct online;

int online_new(struct online **out, struct event_base *base, struct ardb *db,
               const struct chat_config *cfg);
void online_free(struct online *o);

/* A connection of u appeared / went away in this process. */
void online_add(struct online *o, const struct user_id *u);
void online_remove(struct online *o, const struct user_id *u);

/* Users with a connection here now. */
unsigned long online_count(const struct online *o);

#endif

/* ardb — an asynchronous Redis connection on a libevent loop (hiredis
 * async + its libevent adapter), for chat-poll and wsgate: reconnects with
 * backoff on its own, loads every embedded script on each (re)connect
 * before declaring itself up (so EVALSHA never meets NOSCRIPT), and
 * reports state changes.
 *
 * Callbacks get the reply, or NULL when the command failed: connection
 * lost, or an error reply (logged here). hiredis frees the reply after the
 * callback returns: copy what you keep. Callbacks run on the loop thread. */
#ifndef SB_ARDB_H
#define SB_ARDB_H
#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include "config.h"
#include "script.h"

struct ardb;

typedef void (*ardb_reply_fn)(struct ardb *a, redisReply *reply, void *arg);
/* up: 1 when the connection is ready, 0 when it was lost. */
typedef void (*ardb_state_fn)(struct ardb *a, int up, void *arg);

/* Creates the connection and starts connecting. subscriber: a connection
 * for SUBSCRIBE only (no scripts loaded). name is for log lines. */
int ardb_new(struct ardb **out, struct event_base *base, const struct chat_config *cfg,
             const char *name, int subscriber, ardb_state_fn on_state, void *arg);
/* Disconnects; pending callbacks run with NULL first. a may be NULL. */
void ardb_free(struct ardb *a);

int ardb_is_up(const struct ardb *a);
/* Reconnects so far (for /metrics). */
unsigned long ardb_reconnects(const struct ardb *a);

/* Queue a command (cb may be NULL: fire and forget; errors are still
 * logged). CHAT_ERR_UNAVAILABLE (and cb is not called) while the
 * connection is down. */
int ardb_cmd(struct ardb *a, ardb_reply_fn cb, void *arg, const char *fmt, ...);
int ardb_argv(struct ardb *a, ardb_reply_fn cb, void *arg, int argc, const char **argv,
              const size_t *lens);
int ardb_script(struct ardb *a, ardb_reply_fn cb, void *arg, enum script_id id, int nkeys,
                int nargs, const char *const *argv);

/* For a subscriber connection: SUBSCRIBE/UNSUBSCRIBE channel; cb (a plain
 * hiredis callback: ac->data is the ardb) gets every reply for that
 * channel (subscribe, message, unsubscribe), and NULL on disconnect. */
int ardb_subscribe(struct ardb *a, redisCallbackFn *cb, void *arg, const char *channel);
int ardb_unsubscribe(struct ardb *a, const char *channel);

#endif

/* hub — live delivery shared by chat-poll and wsgate: follows the
 * channels of every connected subscriber with one keyspace SUBSCRIBE per
 * channel (reference-counted), reads new entries once per notification
 * and hands them to every subscriber of that channel, in id order,
 * exactly once.
 *
 * Correctness does not depend on notifications: each subscriber keeps its
 * own position per channel and accepts only the next id; any gap makes it
 * read the missing range itself. Notifications only make that fast. A
 * periodic sweep compares each channel's head with what was read, so a
 * lost wakeup costs at most one sweep interval. After Redis comes back,
 * every channel is re-read from where it stood.
 *
 * Runs on one libevent loop; nothing here is thread-safe. */
#ifndef SB_HUB_H
#define SB_HUB_H
#include <event2/event.h>
#include <stddef.h>
#include "ardb.h"
#include "config.h"
#include "user.h"

#define HUB_READ_BATCH 500

struct hub;
struct hub_sub;

/* What a transport implements (long-poll, SSE, WebSocket). None is called
 * after hub_sub_close(). */
struct hub_sub_ops {
    /* One event (JSON, len bytes), in id order per channel. Also `reset`
     * events the hub makes when a position is older than what is kept.
     * Must not call hub_sub_close (buffer, and act in flush). */
    void (*event)(struct hub_sub *s, const char *json, size_t len, void *arg);
    /* End of a batch of events (NULL: nothing to do). */
    void (*flush)(struct hub_sub *s, void *arg);
    /* The start is done: every channel has had its first read (up to
     * HUB_READ_BATCH events, fewer if held). NULL: nothing to do. */
    void (*ready)(struct hub_sub *s, void *arg);
    /* The start failed (Redis unreachable): CHAT_ERR_UNAVAILABLE. */
    void (*failed)(struct hub_sub *s, int err, void *arg);
    /* After ready, once every channel has been read up to its head (a
     * catch-up longer than one read per channel, or one held back by
     * hub_sub_hold, takes more reads than ready waits for); what comes
     * later is live. NULL: nothing to do. */
    void (*caught_up)(struct hub_sub *s, void *arg);
};

struct hub_stats {
    unsigned long subs;            /* subscribers now */
    unsigned long chans;           /* channels followed now */
    unsigned long subscribed;      /* keyspace subscriptions now */
    unsigned long events;          /* event copies handed to subscribers */
    unsigned long resets;
    unsigned long notifications;
    unsigned long reads;           /* channel reads issued */
    unsigned long sweeps_found;    /* sweeps that found unread events */
};

int hub_new(struct hub **out, struct event_base *base, const struct chat_config *cfg);
void hub_free(struct hub *h);

/* The command connection, for other asynchronous work on the same loop. */
struct ardb *hub_ardb(struct hub *h);

/* Plain pub/sub on the hub's subscriber connection, for a program's own
 * notices (logouts, typing), which then need no connection of their own:
 * channel is SUBSCRIBEd now if the connection is up, and again after
 * every reconnect; fn gets hiredis's replies for it as they come (a
 * "subscribe" confirmation each time, then "message"s; NULL when the
 * connection drops). Returns 0, or -1 past HUB_LISTEN_MAX channels. */
#define HUB_LISTEN_MAX 4
int hub_listen(struct hub *h, const char *channel, redisCallbackFn *fn, void *arg);
int hub_is_up(const struct hub *h);
void hub_get_stats(const struct hub *h, struct hub_stats *st);
unsigned long hub_reconnects(const struct hub *h);

/* Starts following me's inbox and joined rooms from cursor (NULL or "":
 * from now). Returns CHAT_ERR_INVALID for a bad cursor,
 * CHAT_ERR_UNAVAILABLE while Redis is down; otherwise 0, *out is set and
 * ops->ready or ops->failed follows. */
int hub_sub_start(struct hub *h, const struct user_id *me, const char *cursor,
                  const struct hub_sub_ops *ops, void *arg, struct hub_sub **out);

/* Stops delivery. The subscriber is freed once no Redis reply is pending
 * for it; callable from inside its own callbacks. */
void hub_sub_close(struct hub_sub *s);

/* Flow control for a subscriber whose output backs up (a catch-up of
 * megabytes, a reader slower than the channel): while held, nothing more
 * is handed to it, not even the rest of a batch under way, and its
 * positions stay at the last event it took, so its cursor stays exact;
 * release reads on from there. Callable from inside its callbacks. */
void hub_sub_hold(struct hub_sub *s);
void hub_sub_release(struct hub_sub *s);
int hub_sub_held(const struct hub_sub *s);

/* The cursor after everything delivered so far: NUL-terminated, *len
 * bytes, in a buffer of the hub that the next call overwrites (no
 * allocation: this runs once per delivered event). Copy it to keep it. */
const char *hub_sub_cursor_peek(const struct hub_sub *s, size_t *len);
const struct user_id *hub_sub_user(const struct hub_sub *s);

#endif

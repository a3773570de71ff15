/* sender — sends from the event loop without blocking it: jobs go to one
 * thread with its own synchronous Redis connection, which runs the same
 * message_send as chat-api (same Lua scripts, same cid rule), and the
 * results come back on the loop. */
#ifndef SB_SENDER_H
#define SB_SENDER_H
#include <event2/event.h>
#include "config.h"
#include "message.h"
#include "user.h"

struct sender;

struct sender_job {
    struct user_id from;
    char *to, *room, *text, *cid, *att; /* owned by the job; NULL if absent */
    int rc;                             /* result, set by the thread */
    struct message_out out;
    void (*done)(struct sender_job *job, void *arg);   /* on the loop; frees nothing */
    void *arg;
    struct sender_job *next;
};

int sender_new(struct sender **out, struct event_base *base, const struct chat_config *cfg);
/* Stops the thread after the job in hand; jobs not done are freed. */
void sender_free(struct sender *s);
/* Takes the job; job->done runs on the loop, then the caller frees it with
 * sender_job_free. */
void sender_submit(struct sender *s, struct sender_job *job);
void sender_job_free(struct sender_job *job);

#endif

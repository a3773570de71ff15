#include "sender.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rdb.h"
#include "xmalloc.h"

struct sender {
    const struct chat_config *cfg;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct sender_job *todo, *todo_tail;   /* for the thread */
    struct sender_job *done;               /* for the loop */
    struct event *wake;
    int stop;
};

static void *sender_loop(void *arg)
{
    struct sender *s = arg;
    struct rdb db;

    rdb_init(&db, s->cfg);
    pthread_mutex_lock(&s->lock);
    for (;;) {
        struct sender_job *job;
        struct message_in in;

        while (!s->todo && !s->stop)
            pthread_cond_wait(&s->cond, &s->lock);
        if (s->stop)
            break;
        job = s->todo;
        s->todo = job->next;
        if (!s->todo)
            s->todo_tail = NULL;
        pthread_mutex_unlock(&s->lock);

        memset(&in, 0, sizeof(in));
        in.to = job->to;
        in.room = job->room;
        in.text = job->text;
        in.text_len = job->text ? strlen(job->text) : 0;
        in.cid = job->cid;
        in.att_url = job->att;
        job->rc = message_send(&db, &job->from, &in, &job->out);

        pthread_mutex_lock(&s->lock);
        job->next = s->done;
        s->done = job;
        event_active(s->wake, EV_READ, 0);
    }
    pthread_mutex_unlock(&s->lock);
    rdb_close(&db);
    return NULL;
}

static void sender_on_wake(evutil_socket_t fd, short what, void *arg)
{
    struct sender *s = arg;
    struct sender_job *list, *rev = NULL;

    (void)fd;
    (void)what;
    pthread_mutex_lock(&s->lock);
    list = s->done;
    s->done = NULL;
    pthread_mutex_unlock(&s->lock);
    /* The list was built newest first; answer in submission order. */
    while (list) {
        struct sender_job *next = list->next;
        list->next = rev;
        rev = list;
        list = next;
    }
    while (rev) {
        struct sender_job *next = rev->next;
        rev->next = NULL;
        rev->done(rev, rev->arg);
        rev = next;
    }
}

int sender_new(struct sender **out, struct event_base *base, const struct chat_config *cfg)
{
    struct sender *s = xcalloc(1, sizeof(*s));

    s->cfg = cfg;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->wake = event_new(base, -1, EV_PERSIST | EV_READ, sender_on_wake, s);
    if (pthread_create(&s->thread, NULL, sender_loop, s) != 0) {
        log_error("sender", "event=thread_create_failed");
        event_free(s->wake);
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void sender_job_free(struct sender_job *job)
{
    if (!job)
        return;
    free(job->to);
    free(job->room);
    free(job->text);
    free(job->cid);
    free(job->att);
    free(job);
}

void sender_free(struct sender *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stop = 1;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    for (struct sender_job *j = s->todo, *n; j; j = n) {
        n = j->next;
        sender_job_free(j);
    }
    for (struct sender_job *j = s->done, *n; j; j = n) {
        n = j->next;
        sender_job_free(j);
    }
    event_free(s->wake);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    free(s);
}

void sender_submit(struct sender *s, struct sender_job *job)
{
    job->next = NULL;
    pthread_mutex_lock(&s->lock);
    if (s->todo_tail)
        s->todo_tail->next = job;
    else
        s->todo = job;
    s->todo_tail = job;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

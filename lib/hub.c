#include "hub.h"

#include <search.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cursor.h"
#include "err.h"
#include "event.h"
#include "keys.h"
#include "log.h"
#include "valid.h"
#include "xmalloc.h"

/* One channel followed by at least one subscriber (or recently so: an
 * idle channel stays subscribed until the next sweep, so long-poll cycles
 * do not churn SUBSCRIBE/UNSUBSCRIBE). */
struct hub_chan {
    char chan[CHAN_MAX];
    struct hub *hub;
    struct hub_watch **w;      /* watchers; w[i]->idx == i */
    int n, cap;
    long long head;            /* last id read for dispatch; -1 unknown */
    char epoch[EPOCH_MAX];     /* the channel's epoch as last read */
    int reading;               /* a dispatch read is in flight */
    int again;                 /* something arrived during that read */
    enum { HC_NONE, HC_SUBSCRIBING, HC_SUBSCRIBED, HC_UNSUBSCRIBING } sub_state;
    int resubscribe;           /* wanted again while unsubscribing */
    long long idle_since;      /* mono ms when n fell to 0 */
    struct hub_chan *prev, *next;
};

/* One subscriber's position in one channel. */
struct hub_watch {
    struct hub_sub *sub;
    struct hub_chan *hc;
    int idx;                   /* index in hc->w */
    long long pos;             /* last id delivered; -1: start from now */
    char epoch[EPOCH_MAX];
    unsigned reading : 1;      /* a catch-up read is in flight */
    unsigned again : 1;        /* read once more when it returns */
    unsigned started : 1;      /* first read done */
    unsigned caught : 1;       /* a read of its own reached the head it saw */
    unsigned retry : 1;        /* a read failed: redo after reconnect */
};

struct hub_sub {
    struct hub *hub;
    struct user_id me;
    const struct hub_sub_ops *ops;
    void *arg;
    struct cursor start;       /* the client's cursor, until ready */
    struct hub_watch **w;      /* n watchers, w[0] the inbox; a watcher
                                  is freed with the subscriber (a read in
                                  flight may still point at it) */
    int n, cap;
    int refs;                  /* owner + pending replies */
    int closed;
    int ready;                 /* ops->ready called */
    int caught_up;             /* ops->caught_up called */
    int pending_start;         /* watches whose first read is not done */
    int delivered;             /* events since the last flush */
    int held;                  /* hub_sub_hold: deliver and read nothing */
    struct hub_sub *prev, *next;
};

struct hub_listener {
    char channel[KEY_MAX];
    redisCallbackFn *fn;
    void *arg;
};

struct hub {
    struct event_base *base;
    const struct chat_config *cfg;
    struct ardb *cmd, *sub;
    void *tree;                /* tsearch tree of hub_chan by name */
    struct hub_chan *chans;    /* list of all, for sweeps and reconnects */
    struct hub_sub *subs;      /* list of all live subscribers */
    struct event *sweep;
    char ks_prefix[KEY_MAX];   /* "__keyspace@<db>__:<prefix>ch:" */
    size_t ks_len;
    struct hub_stats st;
    struct hub_listener listen[HUB_LISTEN_MAX];
    int nlisten;
    /* Scratch of hub_sub_cursor_peek, reused so that encoding a cursor
     * per delivered event allocates nothing once they are big enough. */
    const struct hub_watch **cw;
    char *ctext, *cout;
    size_t cw_cap, ctext_cap, cout_cap;
};

static void hub_chan_dispatch(struct hub_chan *hc);
static void hub_watch_read(struct hub_watch *w);

/* ------------------------------------------------------------ refs */

static void hub_sub_unref(struct hub_sub *s)
{
    if (--s->refs > 0)
        return;
    cursor_free(&s->start);
    for (int i = 0; i < s->n; i++)
        free(s->w[i]);
    free(s->w);
    free(s);
}

/* ------------------------------------------------------------ channels */

static int hub_chan_cmp(const void *a, const void *b)
{
    return strcmp(((const struct hub_chan *)a)->chan, ((const struct hub_chan *)b)->chan);
}

static void hub_chan_subscribe(struct hub_chan *hc);

static struct hub_chan *hub_chan_get(struct hub *h, const char *chan)
{
    struct hub_chan key, *hc, **found;

    snprintf(key.chan, sizeof(key.chan), "%s", chan);
    found = tfind(&key, &h->tree, hub_chan_cmp);
    if (found)
        return *found;
    hc = xcalloc(1, sizeof(*hc));
    snprintf(hc->chan, sizeof(hc->chan), "%s", chan);
    hc->hub = h;
    hc->head = -1;
    tsearch(hc, &h->tree, hub_chan_cmp);
    hc->next = h->chans;
    if (h->chans)
        h->chans->prev = hc;
    h->chans = hc;
    h->st.chans++;
    hub_chan_subscribe(hc);
    return hc;
}

static void hub_chan_drop(struct hub_chan *hc)
{
    struct hub *h = hc->hub;

    tdelete(hc, &h->tree, hub_chan_cmp);
    if (hc->prev)
        hc->prev->next = hc->next;
    else
        h->chans = hc->next;
    if (hc->next)
        hc->next->prev = hc->prev;
    h->st.chans--;
    free(hc->w);
    free(hc);
}

static void hub_chan_attach(struct hub_chan *hc, struct hub_watch *w)
{
    if (hc->n == hc->cap) {
        hc->cap = hc->cap ? 2 * hc->cap : 4;
        hc->w = xrealloc(hc->w, (size_t)hc->cap * sizeof(*hc->w));
    }
    w->hc = hc;
    w->idx = hc->n;
    hc->w[hc->n++] = w;
    hc->idle_since = 0;
}

static void hub_chan_detach(struct hub_watch *w)
{
    struct hub_chan *hc = w->hc;

    if (!hc)
        return;
    hc->w[w->idx] = hc->w[--hc->n];
    hc->w[w->idx]->idx = w->idx;
    w->hc = NULL;
    if (hc->n == 0)
        hc->idle_since = clock_mono_ms();
}

/* -------------------------------------------------------- subscription */

static int hub_chan_from_ks(const struct hub *h, const char *ks, char chan[CHAN_MAX])
{
    if (strncmp(ks, h->ks_prefix, h->ks_len) != 0 || strlen(ks + h->ks_len) >= CHAN_MAX)
        return -1;
    snprintf(chan, CHAN_MAX, "%s", ks + h->ks_len);
    return 0;
}

static struct hub_chan *hub_chan_find(struct hub *h, const char *chan)
{
    struct hub_chan key, **found;

    snprintf(key.chan, sizeof(key.chan), "%s", chan);
    found = tfind(&key, &h->tree, hub_chan_cmp);
    return found ? *found : NULL;
}

/* Every reply on the subscriber connection for a channel lands here. */
static void hub_on_sub_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct hub *h = priv;
    redisReply *reply = r;
    struct hub_chan *hc;
    char chan[CHAN_MAX];
    const char *kind;

    (void)ac;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 ||
        reply->element[0]->type != REDIS_REPLY_STRING || reply->element[1]->type != REDIS_REPLY_STRING)
        return;
    kind = reply->element[0]->str;
    if (hub_chan_from_ks(h, reply->element[1]->str, chan) < 0 || !(hc = hub_chan_find(h, chan)))
        return;
    if (strcmp(kind, "message") == 0) {
        h->st.notifications++;
        hub_chan_dispatch(hc);
    } else if (strcmp(kind, "subscribe") == 0) {
        hc->sub_state = HC_SUBSCRIBED;
        h->st.subscribed++;
        /* Anything pushed before the subscription took effect raised no
         * notification: read from where the channel stood, and start the
         * watchers that waited for this. */
        hub_chan_dispatch(hc);
        /* Downwards: a failed start closes its subscriber, which swaps
         * the last watcher into its slot. */
        for (int i = hc->n - 1; i >= 0; i--)
            if (i < hc->n && !hc->w[i]->started)
                hub_watch_read(hc->w[i]);
    } else if (strcmp(kind, "unsubscribe") == 0) {
        hc->sub_state = HC_NONE;
        if (h->st.subscribed)
            h->st.subscribed--;
        if (hc->resubscribe || hc->n > 0) {
            hc->resubscribe = 0;
            hub_chan_subscribe(hc);
        } else if (!hc->reading) {
            hub_chan_drop(hc);   /* else dropped when the read returns */
        }
    }
}

static void hub_chan_subscribe(struct hub_chan *hc)
{
    struct hub *h = hc->hub;
    char ks[KEY_MAX + CHAN_MAX];

    if (hc->sub_state == HC_UNSUBSCRIBING) {
        hc->resubscribe = 1;
        return;
    }
    if (hc->sub_state != HC_NONE || !ardb_is_up(h->sub))
        return;
    snprintf(ks, sizeof(ks), "%s%s", h->ks_prefix, hc->chan);
    if (ardb_subscribe(h->sub, hub_on_sub_reply, h, ks) == 0)
        hc->sub_state = HC_SUBSCRIBING;
}

static void hub_chan_unsubscribe(struct hub_chan *hc)
{
    struct hub *h = hc->hub;
    char ks[KEY_MAX + CHAN_MAX];

    if (hc->sub_state != HC_SUBSCRIBED) {
        if (hc->sub_state == HC_NONE)
            hub_chan_drop(hc);
        return;
    }
    snprintf(ks, sizeof(ks), "%s%s", h->ks_prefix, hc->chan);
    if (ardb_unsubscribe(h->sub, ks) == 0)
        hc->sub_state = HC_UNSUBSCRIBING;
}

/* ------------------------------------------------------------ delivery */

/* A reply of the chan_read script, unpacked. */
struct hub_read {
    const char *epoch;
    long long seq, first;
    const redisReply *entries;
};

static int hub_read_parse(const redisReply *reply, struct hub_read *r)
{
    const redisReply *ep = rdb_elem(reply, 0);

    r->entries = rdb_elem(reply, 3);
    if (!ep || ep->type != REDIS_REPLY_STRING || !r->entries || r->entries->type != REDIS_REPLY_ARRAY)
        return -1;
    r->epoch = ep->str;
    r->seq = rdb_int(rdb_elem(reply, 1));
    r->first = rdb_int(rdb_elem(reply, 2));
    return 0;
}

/* The id of a stored event without parsing all of it: the scripts write
 * "id" as the third member, but parse properly if that ever changes. */
static long long hub_entry_id(const redisReply *e)
{
    const char *p;
    cJSON *ev;
    long long id;

    if (e->type != REDIS_REPLY_STRING)
        return -1;
    p = strstr(e->str, ",\"id\":");
    if (p)
        return strtoll(p + 6, NULL, 10);
    ev = event_parse(e->str, e->len);
    id = event_id(ev);
    cJSON_Delete(ev);
    return id;
}

/* May free s (a transport closes from flush): callers must hold a ref
 * or not touch s afterwards. */
static void hub_sub_flush(struct hub_sub *s)
{
    int had = s->delivered;

    s->delivered = 0;
    if (had && !s->closed && s->ops->flush)
        s->ops->flush(s, s->arg);
}

static struct hub_watch *hub_sub_add_watch(struct hub_sub *s, const char *chan, long long pos,
                                           const char *epoch);

/* A `joined` or `left` notice in the inbox: follow the room from its join
 * (rid), or stop following it, without the client reconnecting. */
static void hub_sub_notice(struct hub_sub *s, const redisReply *e)
{
    char lroom[NAME_MAX_LEN + 1], chan[CHAN_MAX];
    const cJSON *room, *rid;
    const char *type;
    cJSON *ev;

    if (!strstr(e->str, "\"type\":\"joined\"") && !strstr(e->str, "\"type\":\"left\""))
        return;
    ev = event_parse(e->str, e->len);
    type = event_type(ev);
    room = cJSON_GetObjectItemCaseSensitive(ev, "room");
    rid = cJSON_GetObjectItemCaseSensitive(ev, "rid");
    if (type && cJSON_IsString(room) && valid_name_lower(lroom, room->valuestring) == 0) {
        keys_chan_room(chan, lroom);
        for (int i = 1; i < s->n; i++) {
            if (s->w[i]->hc && strcmp(s->w[i]->hc->chan, chan) == 0) {
                if (strcmp(type, "left") == 0)
                    hub_chan_detach(s->w[i]);
                chan[0] = '\0';   /* known already: nothing to add */
                break;
            }
        }
        if (chan[0] && strcmp(type, "joined") == 0 && cJSON_IsNumber(rid)) {
            struct hub_watch *w = hub_sub_add_watch(s, chan, (long long)rid->valuedouble, "");
            if (!s->ready)
                s->pending_start++;   /* ready waits for this one too */
            hub_watch_read(w);
        }
    }
    cJSON_Delete(ev);
}

/* Hands one entry to a watcher if it is the next one it needs. Returns 1
 * if delivered, 0 if already had, -1 if there is a gap before it. */
static int hub_watch_offer(struct hub_watch *w, const redisReply *e, long long id)
{
    struct hub_sub *s = w->sub;

    if (id <= w->pos)
        return 0;
    if (id != w->pos + 1 || s->held)
        return -1;   /* a held one reads it later, from its position */
    w->pos = id;
    if (!s->closed) {
        s->hub->st.events++;
        s->delivered++;
        s->ops->event(s, e->str, e->len, s->arg);
        if (s->n > 0 && w == s->w[0])
            hub_sub_notice(s, e);
    }
    return 1;
}

static void hub_watch_reset(struct hub_watch *w, const struct hub_read *r)
{
    struct hub_sub *s = w->sub;
    char json[CHAN_MAX + 40];
    int n;

    w->pos = r->seq;
    snprintf(w->epoch, sizeof(w->epoch), "%s", r->epoch);
    if (s->closed)
        return;
    n = snprintf(json, sizeof(json), "{\"type\":\"reset\",\"chan\":\"%s\"}", w->hc ? w->hc->chan : "");
    s->hub->st.resets++;
    s->delivered++;
    s->ops->event(s, json, (size_t)n, s->arg);
}

static void hub_sub_started_one(struct hub_sub *s)
{
    if (s->pending_start > 0 && --s->pending_start == 0 && !s->closed && !s->ready) {
        s->ready = 1;
        cursor_free(&s->start);
        if (s->ops->ready)
            s->ops->ready(s, s->arg);
    }
}

/* Every followed channel read up to its head at least once since the
 * start (later events are live): a few watchers, checked after each of
 * the subscriber's own reads until it holds. */
static void hub_sub_check_caught_up(struct hub_sub *s)
{
    if (s->caught_up || s->closed || !s->ready)
        return;
    for (int i = 0; i < s->n; i++)
        if (s->w[i]->hc && !s->w[i]->caught)
            return;
    s->caught_up = 1;
    if (s->ops->caught_up)
        s->ops->caught_up(s, s->arg);
}

/* A watcher's own read of everything after its position. */
static void hub_on_watch_read(struct ardb *a, redisReply *reply, void *arg)
{
    struct hub_watch *w = arg;
    struct hub_sub *s = w->sub;
    struct hub_chan *hc = w->hc;
    struct hub_read r;
    int first_read = !w->started;

    (void)a;
    w->reading = 0;
    if (s->closed || !hc) {
        hub_sub_check_caught_up(s);   /* left meanwhile: the others may be */
        hub_sub_unref(s);
        return;
    }
    if (!reply || hub_read_parse(reply, &r) < 0) {
        w->retry = 1;
        if (first_read && !s->ready && !s->closed) {
            s->closed = 1;   /* no more callbacks after failed */
            s->ops->failed(s, CHAT_ERR_UNAVAILABLE, s->arg);
        }
        hub_sub_unref(s);
        return;
    }
    w->started = 1;
    if (w->pos < 0) {
        /* From now: take the head, deliver nothing. */
        w->pos = r.seq;
        snprintf(w->epoch, sizeof(w->epoch), "%s", r.epoch);
    } else if ((w->epoch[0] && r.epoch[0] && strcmp(w->epoch, r.epoch) != 0) || r.seq < w->pos ||
               (r.first > w->pos + 1 && w->pos < r.seq)) {
        /* Recreated channel, a cursor from the future, or trimmed past
         * the position: say so instead of pretending nothing happened. */
        hub_watch_reset(w, &r);
    } else {
        if (!w->epoch[0])
            snprintf(w->epoch, sizeof(w->epoch), "%s", r.epoch);
        for (size_t i = 0; i < r.entries->elements; i++) {
            const redisReply *e = r.entries->element[i];
            if (hub_watch_offer(w, e, hub_entry_id(e)) < 0)
                break;
        }
        if (w->pos < r.seq)
            w->again = 1;   /* a full batch (or held): more to read */
    }
    if (w->pos >= r.seq)
        w->caught = 1;
    /* The hub dispatched past this read while it was in flight (it skips
     * watchers that are reading): read again, or those events would wait
     * for the next one. */
    if (hc->head > w->pos && !w->again)
        w->again = 1;
    /* The hub has not dispatched past what this read saw: let it know
     * where the channel stands so its next read starts there. */
    if (hc->head < 0) {
        hc->head = r.seq;
        snprintf(hc->epoch, sizeof(hc->epoch), "%s", r.epoch);
        if (hc->again) {
            hc->again = 0;
            hub_chan_dispatch(hc);
        }
    } else if (r.seq > hc->head) {
        hub_chan_dispatch(hc);
    }
    hub_sub_flush(s);
    if (first_read)
        hub_sub_started_one(s);
    hub_sub_check_caught_up(s);
    if (w->again && !s->closed) {
        w->again = 0;
        hub_watch_read(w);
    }
    hub_sub_unref(s);
}

static void hub_watch_read(struct hub_watch *w)
{
    struct hub_sub *s = w->sub;
    struct hub *h = s->hub;
    char list[KEY_MAX], meta[KEY_MAX];
    struct rdb_args a;

    if (s->closed || !w->hc)
        return;
    /* A held subscriber reads once released; a first read still goes out
     * (it only takes the head, or offers what it finds and is refused)
     * so that the start completes. */
    if (w->reading || (s->held && w->started)) {
        w->again = 1;
        return;
    }
    /* Only once the keyspace subscription is in place: anything pushed
     * after this read then raises a notification. */
    if (w->hc->sub_state != HC_SUBSCRIBED)
        return;
    keys_chan(list, h->cfg->key_prefix, w->hc->chan);
    keys_meta(meta, h->cfg->key_prefix, w->hc->chan);
    rdb_args_init(&a);
    rdb_args_str(&a, list);
    rdb_args_str(&a, meta);
    rdb_args_int(&a, w->pos < 0 ? 0 : w->pos);
    rdb_args_int(&a, 0);
    rdb_args_int(&a, w->pos < 0 ? 0 : HUB_READ_BATCH);
    rdb_args_int(&a, 0);
    if (ardb_script(h->cmd, hub_on_watch_read, w, SCRIPT_CHAN_READ, 2, 4, a.argv) < 0) {
        w->retry = 1;
        if (!w->started && !s->ready) {
            s->closed = 1;
            s->ops->failed(s, CHAT_ERR_UNAVAILABLE, s->arg);
        }
        return;
    }
    h->st.reads++;
    w->reading = 1;
    w->retry = 0;
    s->refs++;
}

/* The hub's read of new entries after a notification: one read for all
 * the channel's watchers. */
static void hub_on_chan_read(struct ardb *a, redisReply *reply, void *arg)
{
    struct hub_chan *hc = arg;
    struct hub_read r;
    struct hub_sub *s;

    (void)a;
    hc->reading = 0;
    if (!reply || hub_read_parse(reply, &r) < 0) {
        hc->again = 1;   /* redone when Redis is back */
        return;
    }
    if ((hc->epoch[0] && r.epoch[0] && strcmp(hc->epoch, r.epoch) != 0) || r.seq < hc->head) {
        /* The channel was recreated (data lost, or deleted and made
         * again): every watcher re-reads, sees the new epoch and resets. */
        snprintf(hc->epoch, sizeof(hc->epoch), "%s", r.epoch);
        hc->head = r.seq;
        for (int j = hc->n - 1; j >= 0; j--) {
            if (j >= hc->n)
                continue;
            if (hc->w[j]->reading)
                hc->w[j]->again = 1;
            else if (hc->w[j]->started)
                hub_watch_read(hc->w[j]);
        }
        return;
    }
    if (!hc->epoch[0])
        snprintf(hc->epoch, sizeof(hc->epoch), "%s", r.epoch);
    /* A watcher that started before the channel existed learns its epoch
     * here, so a later recreation is noticed. */
    for (int j = 0; j < hc->n; j++)
        if (!hc->w[j]->epoch[0] && hc->w[j]->started)
            snprintf(hc->w[j]->epoch, sizeof(hc->w[j]->epoch), "%s", r.epoch);
    for (size_t i = 0; i < r.entries->elements; i++) {
        const redisReply *e = r.entries->element[i];
        long long id = hub_entry_id(e);
        for (int j = 0; j < hc->n; j++) {
            struct hub_watch *w = hc->w[j];
            if (w->reading || !w->started)
                continue;   /* its own read will cover this */
            if (hub_watch_offer(w, e, id) < 0)
                hub_watch_read(w);
        }
        if (id > hc->head)
            hc->head = id;
    }
    if (r.seq > hc->head && r.entries->elements == 0)
        hc->head = r.seq;   /* trimmed away before we read: watchers reset */
    /* Downwards: a flush may close its subscriber, which swaps the last
     * watcher into its slot; those were visited already. */
    for (int j = hc->n - 1; j >= 0; j--) {
        if (j >= hc->n)
            continue;
        s = hc->w[j]->sub;
        /* Behind the head with nothing in flight: catch up. */
        if (hc->w[j]->started && !hc->w[j]->reading && hc->w[j]->pos < hc->head)
            hub_watch_read(hc->w[j]);
        hub_sub_flush(s);
    }
    if (hc->again || r.seq > hc->head) {
        hc->again = 0;
        hub_chan_dispatch(hc);
    }
    if (hc->n == 0 && hc->sub_state == HC_NONE && !hc->reading)
        hub_chan_drop(hc);
}

static void hub_chan_dispatch(struct hub_chan *hc)
{
    struct hub *h = hc->hub;
    char list[KEY_MAX], meta[KEY_MAX];
    struct rdb_args a;

    if (hc->n == 0) {
        /* Nobody reads it now: forget the head, so the next watcher reads
         * for itself instead of trusting a head that fell behind (a read
         * in flight comes back here when it is done). */
        if (hc->reading)
            hc->again = 1;
        else
            hc->head = -1;
        return;
    }
    if (hc->reading || hc->head < 0) {
        hc->again = 1;
        return;
    }
    keys_chan(list, h->cfg->key_prefix, hc->chan);
    keys_meta(meta, h->cfg->key_prefix, hc->chan);
    rdb_args_init(&a);
    rdb_args_str(&a, list);
    rdb_args_str(&a, meta);
    rdb_args_int(&a, hc->head);
    rdb_args_int(&a, 0);
    rdb_args_int(&a, HUB_READ_BATCH);
    rdb_args_int(&a, 0);
    if (ardb_script(h->cmd, hub_on_chan_read, hc, SCRIPT_CHAN_READ, 2, 4, a.argv) < 0) {
        hc->again = 1;
        return;
    }
    h->st.reads++;
    hc->reading = 1;
}

/* --------------------------------------------------------- subscribers */

static void hub_sub_link(struct hub_sub *s)
{
    struct hub *h = s->hub;

    s->next = h->subs;
    if (h->subs)
        h->subs->prev = s;
    h->subs = s;
    h->st.subs++;
}

static void hub_sub_unlink(struct hub_sub *s)
{
    struct hub *h = s->hub;

    if (s->prev)
        s->prev->next = s->next;
    else if (h->subs == s)
        h->subs = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
    h->st.subs--;
}

static struct hub_watch *hub_sub_add_watch(struct hub_sub *s, const char *chan, long long pos,
                                           const char *epoch)
{
    struct hub_watch *w = xcalloc(1, sizeof(*w));

    w->sub = s;
    w->pos = pos;
    snprintf(w->epoch, sizeof(w->epoch), "%s", epoch);
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 4;
        s->w = xrealloc(s->w, (size_t)s->cap * sizeof(*s->w));
    }
    s->w[s->n++] = w;
    hub_chan_attach(hub_chan_get(s->hub, chan), w);
    return w;
}

/* The rooms and read marks arrived: build one watcher per channel and
 * start them. */
static void hub_on_rooms(struct ardb *a, redisReply *reply, void *arg)
{
    struct hub_sub *s = arg;
    char lroom[NAME_MAX_LEN + 1], chan[CHAN_MAX];
    size_t nrooms;

    (void)a;
    if (s->closed) {
        hub_sub_unref(s);
        return;
    }
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        s->closed = 1;
        s->ops->failed(s, CHAT_ERR_UNAVAILABLE, s->arg);
        hub_sub_unref(s);
        return;
    }
    nrooms = reply->elements / 2;
    for (size_t i = 0; i <= nrooms; i++) {
        const struct cursor_pos *p;
        struct hub_watch *w;
        long long mark = 0;

        if (i == 0) {
            keys_chan_inbox(chan, s->me.lname);
        } else {
            const redisReply *e = reply->element[2 * (i - 1)];
            if (e->type != REDIS_REPLY_STRING || valid_name_lower(lroom, e->str) < 0)
                continue;
            keys_chan_room(chan, lroom);
            mark = rdb_int(reply->element[2 * (i - 1) + 1]);
        }
        p = cursor_find(&s->start, chan);
        /* Not in the cursor: a fresh connection starts from now; a
         * resumed one has joined this room since, and starts at its join
         * (the read mark) so nothing after the join is lost. */
        w = hub_sub_add_watch(s, chan, p ? p->id : s->start.n > 0 && mark > 0 ? mark : -1,
                              p ? p->epoch : "");
        (void)w;
    }
    s->pending_start = s->n;
    for (int i = 0; i < s->n; i++)
        hub_watch_read(s->w[i]);
    hub_sub_unref(s);
}

int hub_sub_start(struct hub *h, const struct user_id *me, const char *cursor,
                  const struct hub_sub_ops *ops, void *arg, struct hub_sub **out)
{
    struct hub_sub *s;
    char k[KEY_MAX], marks[KEY_MAX];
    const char *argv[2];

    *out = NULL;
    if (!ardb_is_up(h->cmd) || !ardb_is_up(h->sub))
        return CHAT_ERR_UNAVAILABLE;
    s = xcalloc(1, sizeof(*s));
    s->hub = h;
    s->me = *me;
    s->ops = ops;
    s->arg = arg;
    cursor_init(&s->start);
    if (cursor && cursor[0] && cursor_decode(&s->start, cursor) < 0) {
        cursor_free(&s->start);
        free(s);
        return CHAT_ERR_INVALID;
    }
    keys_user_rooms(k, h->cfg->key_prefix, me->lname);
    keys_readmark(marks, h->cfg->key_prefix, me->lname);
    argv[0] = k;
    argv[1] = marks;
    if (ardb_script(h->cmd, hub_on_rooms, s, SCRIPT_FOLLOW_ROOMS, 2, 0, argv) < 0) {
        cursor_free(&s->start);
        free(s);
        return CHAT_ERR_UNAVAILABLE;
    }
    s->refs = 2;   /* the owner, and the follow_rooms reply */
    hub_sub_link(s);
    *out = s;
    return 0;
}

void hub_sub_close(struct hub_sub *s)
{
    if (!s || s->hub == NULL)
        return;
    s->closed = 1;
    for (int i = 0; i < s->n; i++)
        hub_chan_detach(s->w[i]);
    if (s->prev || s->next || s->hub->subs == s)
        hub_sub_unlink(s);
    hub_sub_unref(s);
}

static void hub_grow(void **buf, size_t *cap, size_t want, size_t size)
{
    size_t cap2 = *cap ? *cap : 64;

    if (want <= *cap)
        return;
    while (cap2 < want) {
        if (cap2 > SIZE_MAX / 2 / size)
            abort();
        cap2 *= 2;
    }
    *buf = xrealloc(*buf, cap2 * size);
    *cap = cap2;
}

void hub_sub_hold(struct hub_sub *s)
{
    s->held = 1;
}

int hub_sub_held(const struct hub_sub *s)
{
    return s->held;
}

void hub_sub_release(struct hub_sub *s)
{
    if (!s->held)
        return;
    s->held = 0;
    for (int i = 0; i < s->n && !s->closed; i++) {
        struct hub_watch *w = s->w[i];

        /* Only started ones were held back (a first read is never), and
         * their reads fail without a callback that could free s. */
        if (w->again && !w->reading && w->started) {
            w->again = 0;
            hub_watch_read(w);
        }
    }
}

const char *hub_sub_cursor_peek(const struct hub_sub *s, size_t *len)
{
    struct hub *h = s->hub;
    size_t n = 0, tlen = 0;

    hub_grow((void **)&h->cw, &h->cw_cap, (size_t)s->n + 1, sizeof(*h->cw));
    /* Sorted by channel (insertion: a subscriber follows a few), so equal
     * positions always give the same string, as cursor_encode does. */
    for (int i = 0; i < s->n; i++) {
        const struct hub_watch *w = s->w[i];
        size_t j;

        if (!w->hc || w->pos < 0)
            continue;
        j = n++;
        while (j > 0 && strcmp(h->cw[j - 1]->hc->chan, w->hc->chan) > 0) {
            h->cw[j] = h->cw[j - 1];
            j--;
        }
        h->cw[j] = w;
    }
    hub_grow((void **)&h->ctext, &h->ctext_cap, n * CURSOR_LINE_MAX + 1, 1);
    for (size_t i = 0; i < n; i++)
        tlen += cursor_line(h->ctext + tlen, h->cw[i]->hc->chan, h->cw[i]->epoch, h->cw[i]->pos);
    hub_grow((void **)&h->cout, &h->cout_cap, cursor_encoded_len(tlen) + 1, 1);
    *len = cursor_encode_text(h->cout, h->ctext, tlen);
    return h->cout;
}

const struct user_id *hub_sub_user(const struct hub_sub *s)
{
    return &s->me;
}

/* -------------------------------------------------------- sweep, state */

static void hub_on_head(struct ardb *a, redisReply *reply, void *arg)
{
    struct hub_chan *hc = arg;
    struct hub *h = hc->hub;

    (void)a;
    hc->reading = 0;
    if (reply && hc->head >= 0 && rdb_int(reply) != hc->head) {   /* new, or recreated */
        h->st.sweeps_found++;
        hub_chan_dispatch(hc);
    } else if (hc->again) {
        hc->again = 0;
        hub_chan_dispatch(hc);
    }
    if (hc->n == 0 && hc->sub_state == HC_NONE && !hc->reading)
        hub_chan_drop(hc);
}

static void hub_on_sweep(evutil_socket_t fd, short what, void *arg)
{
    struct hub *h = arg;
    long long now = clock_mono_ms(), idle_ms = (long long)h->cfg->sweep_interval * 1000;
    struct hub_chan *hc, *next;
    char meta[KEY_MAX];

    (void)fd;
    (void)what;
    if (!ardb_is_up(h->cmd))
        return;
    for (hc = h->chans; hc; hc = next) {
        next = hc->next;
        if (hc->n == 0) {
            if (hc->idle_since && now - hc->idle_since >= idle_ms && !hc->reading)
                hub_chan_unsubscribe(hc);
            continue;
        }
        if (hc->reading)
            continue;
        keys_meta(meta, h->cfg->key_prefix, hc->chan);
        if (ardb_cmd(h->cmd, hub_on_head, hc, "HGET %s seq", meta) == 0)
            hc->reading = 1;
    }
}

/* Both connections up again: resubscribe, re-read every channel from its
 * head, and redo the reads that failed. */
static void hub_on_state(struct ardb *a, int up, void *arg)
{
    struct hub *h = arg;

    if (!up) {
        if (a == h->sub) {
            h->st.subscribed = 0;
            for (struct hub_chan *hc = h->chans; hc; hc = hc->next)
                hc->sub_state = HC_NONE;
        }
        return;
    }
    if (a == h->sub)
        for (int i = 0; i < h->nlisten; i++)
            ardb_subscribe(h->sub, h->listen[i].fn, h->listen[i].arg, h->listen[i].channel);
    if (!ardb_is_up(h->cmd) || !ardb_is_up(h->sub))
        return;
    for (struct hub_chan *hc = h->chans, *next; hc; hc = next) {
        next = hc->next;
        if (hc->n == 0 && !hc->reading) {
            if (hc->sub_state == HC_NONE)
                hub_chan_drop(hc);
            continue;
        }
        hc->reading = 0;
        if (hc->sub_state == HC_NONE)
            hub_chan_subscribe(hc);   /* its confirmation re-reads */
        else
            hub_chan_dispatch(hc);
    }
    for (struct hub_sub *s = h->subs; s; s = s->next)
        for (int i = 0; i < s->n; i++)
            if (s->w[i]->retry) {
                s->w[i]->reading = 0;
                hub_watch_read(s->w[i]);
            }
}

int hub_listen(struct hub *h, const char *channel, redisCallbackFn *fn, void *arg)
{
    struct hub_listener *l;

    if (h->nlisten == HUB_LISTEN_MAX)
        return -1;
    l = &h->listen[h->nlisten++];
    snprintf(l->channel, sizeof(l->channel), "%s", channel);
    l->fn = fn;
    l->arg = arg;
    if (ardb_is_up(h->sub))
        ardb_subscribe(h->sub, fn, arg, l->channel);
    return 0;
}

int hub_new(struct hub **out, struct event_base *base, const struct chat_config *cfg)
{
    struct hub *h = xcalloc(1, sizeof(*h));
    struct timeval tv = { cfg->sweep_interval, 0 };
    int n;

    h->base = base;
    h->cfg = cfg;
    n = snprintf(h->ks_prefix, sizeof(h->ks_prefix), "__keyspace@%d__:%sch:", cfg->redis_db, cfg->key_prefix);
    h->ks_len = (size_t)n;
    h->sweep = event_new(base, -1, EV_PERSIST, hub_on_sweep, h);
    evtimer_add(h->sweep, &tv);
    ardb_new(&h->cmd, base, cfg, "hub-cmd", 0, hub_on_state, h);
    ardb_new(&h->sub, base, cfg, "hub-sub", 1, hub_on_state, h);
    *out = h;
    return 0;
}

void hub_free(struct hub *h)
{
    if (!h)
        return;
    while (h->subs)
        hub_sub_close(h->subs);
    ardb_free(h->sub);
    ardb_free(h->cmd);
    while (h->chans)
        hub_chan_drop(h->chans);
    if (h->sweep)
        event_free(h->sweep);
    free(h->cw);
    free(h->ctext);
    free(h->cout);
    free(h);
}

struct ardb *hub_ardb(struct hub *h)
{
    return h->cmd;
}

int hub_is_up(const struct hub *h)
{
    return ardb_is_up(h->cmd) && ardb_is_up(h->sub);
}

void hub_get_stats(const struct hub *h, struct hub_stats *st)
{
    *st = h->st;
}

unsigned long hub_reconnects(const struct hub *h)
{
    return ardb_reconnects(h->cmd) + ardb_reconnects(h->sub);
}

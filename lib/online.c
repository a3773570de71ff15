#include "online.h"

#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chan.h"
#include "clock.h"
#include "err.h"
#include "event.h"
#include "keys.h"
#include "log.h"
#include "rdb.h"
#include "valid.h"
#include "xmalloc.h"

#define ONLINE_EXPIRE_BATCH 100

struct online_user {
    struct user_id id;
    int conns;
    struct online_user *prev, *next;
};

struct online {
    struct event_base *base;
    struct ardb *db;
    const struct chat_config *cfg;
    void *tree;                    /* online_user by lname */
    struct online_user *users;     /* list, for the refresh */
    unsigned long n;
    int ticks;                     /* seconds since the last refresh */
    struct event *tick;
    char key[KEY_MAX];             /* the presence set */
};

/* A transition to announce; lives until both fan-out reads returned. */
struct online_news {
    struct online *o;
    char name[NAME_MAX_LEN + 1];
    int online;
    int refs;
};

static int online_cmp(const void *a, const void *b)
{
    return strcmp(((const struct online_user *)a)->id.lname, ((const struct online_user *)b)->id.lname);
}

/* Expiry: one refresh interval plus the grace period from now, so a user
 * whose last connection just closed stays online for the grace period. */
static int online_refresh_s(const struct chat_config *cfg)
{
    return cfg->presence_grace / 4 > 1 ? cfg->presence_grace / 4 : 1;
}

static long long online_expiry(const struct online *o)
{
    return clock_now_ms() + (long long)(o->cfg->presence_grace + online_refresh_s(o->cfg)) * 1000;
}

static void online_on_pushed(struct ardb *a, redisReply *reply, void *arg)
{
    (void)a;
    (void)reply;
    (void)arg;   /* failures are logged by ardb; presence is best effort */
}

static void online_push(struct online *o, const char *chan, const char *members, int cap)
{
    char list[KEY_MAX], meta[KEY_MAX], epoch[CHAN_EPOCH_LEN + 1];
    struct rdb_args a;

    keys_chan(list, o->cfg->key_prefix, chan);
    keys_meta(meta, o->cfg->key_prefix, chan);
    chan_new_epoch(epoch);
    rdb_args_init(&a);
    rdb_args_str(&a, list);
    rdb_args_str(&a, meta);
    rdb_args_str(&a, chan);
    rdb_args_str(&a, "presence");
    rdb_args_int(&a, clock_now_ms());
    rdb_args_str(&a, members);
    rdb_args_int(&a, cap);
    rdb_args_str(&a, epoch);
    ardb_script(o->db, online_on_pushed, NULL, SCRIPT_CHAN_PUSH, 2, 6, a.argv);
}

static char *online_members(const struct online_news *nw)
{
    cJSON *obj = cJSON_CreateObject();
    char *m;

    cJSON_AddStringToObject(obj, "user", nw->name);
    cJSON_AddBoolToObject(obj, "online", nw->online);
    m = event_members(obj);
    cJSON_Delete(obj);
    return m;
}

/* The contacts or the rooms of the user arrived: one event each. */
static void online_on_fanout(struct ardb *a, redisReply *reply, void *arg, int rooms)
{
    struct online_news *nw = arg;
    char l[NAME_MAX_LEN + 1], chan[CHAN_MAX];
    char *members;

    (void)a;
    if (reply && reply->type == REDIS_REPLY_ARRAY) {
        members = online_members(nw);
        for (size_t i = 0; i < reply->elements; i++) {
            if (reply->element[i]->type != REDIS_REPLY_STRING ||
                valid_name_lower(l, reply->element[i]->str) < 0)
                continue;
            if (rooms)
                keys_chan_room(chan, l);
            else
                keys_chan_inbox(chan, l);
            online_push(nw->o, chan, members, rooms ? nw->o->cfg->history_cap : nw->o->cfg->inbox_cap);
        }
        free(members);
    }
    if (--nw->refs == 0)
        free(nw);
}

static void online_on_contacts(struct ardb *a, redisReply *reply, void *arg)
{
    online_on_fanout(a, reply, arg, 0);
}

static void online_on_rooms(struct ardb *a, redisReply *reply, void *arg)
{
    online_on_fanout(a, reply, arg, 1);
}

static void online_announce(struct online *o, const char *name, int online)
{
    struct online_news *nw = xcalloc(1, sizeof(*nw));
    char l[NAME_MAX_LEN + 1], k[KEY_MAX];

    if (valid_name_lower(l, name) < 0) {
        free(nw);
        return;
    }
    nw->o = o;
    snprintf(nw->name, sizeof(nw->name), "%s", name);
    nw->online = online;
    keys_conv(k, o->cfg->key_prefix, l);
    if (ardb_cmd(o->db, online_on_contacts, nw, "ZREVRANGE %s 0 999", k) == 0)
        nw->refs++;
    keys_user_rooms(k, o->cfg->key_prefix, l);
    if (ardb_cmd(o->db, online_on_rooms, nw, "SMEMBERS %s", k) == 0)
        nw->refs++;
    if (nw->refs == 0)
        free(nw);
    log_info("online", "event=presence user=%s online=%d", name, online);
}

/* presence_touch answered: 1 means the user was offline until now. */
static void online_on_touch(struct ardb *a, redisReply *reply, void *arg)
{
    struct online_news *nw = arg;

    (void)a;
    if (reply && rdb_int(reply) == 1)
        online_announce(nw->o, nw->name, 1);
    free(nw);
}

static void online_touch(struct online *o, const struct user_id *u)
{
    struct online_news *nw = xcalloc(1, sizeof(*nw));
    struct rdb_args a;

    nw->o = o;
    snprintf(nw->name, sizeof(nw->name), "%s", u->name);
    rdb_args_init(&a);
    rdb_args_str(&a, o->key);
    rdb_args_str(&a, u->lname);
    rdb_args_int(&a, clock_now_ms());
    rdb_args_int(&a, online_expiry(o));
    if (ardb_script(o->db, online_on_touch, nw, SCRIPT_PRESENCE_TOUCH, 1, 3, a.argv) < 0)
        free(nw);
}

/* The registered name of a user who went offline. */
static void online_on_name(struct ardb *a, redisReply *reply, void *arg)
{
    struct online_news *nw = arg;

    (void)a;
    if (reply && reply->type == REDIS_REPLY_STRING)
        online_announce(nw->o, reply->str, 0);
    free(nw);
}

/* The expired users, taken off the set by this process: announce them.
 * The set holds lower-cased names; events carry the registered one. */
static void online_on_expired(struct ardb *a, redisReply *reply, void *arg)
{
    struct online *o = arg;
    char ukey[KEY_MAX];

    (void)a;
    if (!reply || reply->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t i = 0; i < reply->elements; i++) {
        struct online_news *nw;
        if (reply->element[i]->type != REDIS_REPLY_STRING)
            continue;
        keys_user(ukey, o->cfg->key_prefix, reply->element[i]->str);
        nw = xcalloc(1, sizeof(*nw));
        nw->o = o;
        if (ardb_cmd(o->db, online_on_name, nw, "HGET %s name", ukey) < 0)
            free(nw);
    }
}

static void online_on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct online *o = arg;
    struct rdb_args a;
    long long expiry = online_expiry(o);

    (void)fd;
    (void)what;
    if (!ardb_is_up(o->db))
        return;
    /* One ZADD for every user with a connection here, once per refresh
     * interval (the expiry covers one interval plus the grace). */
    if (o->n > 0 && ++o->ticks >= online_refresh_s(o->cfg)) {
        o->ticks = 0;
        size_t argc = 2 + 2 * o->n, i = 2;
        const char **argv = xcalloc(argc, sizeof(*argv));
        char score[24];
        snprintf(score, sizeof(score), "%lld", expiry);
        argv[0] = "ZADD";
        argv[1] = o->key;
        for (struct online_user *u = o->users; u; u = u->next) {
            argv[i++] = score;
            argv[i++] = u->id.lname;
        }
        ardb_argv(o->db, online_on_pushed, NULL, (int)argc, argv, NULL);
        free(argv);
    }
    rdb_args_init(&a);
    rdb_args_str(&a, o->key);
    rdb_args_int(&a, clock_now_ms());
    rdb_args_int(&a, ONLINE_EXPIRE_BATCH);
    ardb_script(o->db, online_on_expired, o, SCRIPT_PRESENCE_EXPIRE, 1, 2, a.argv);
}

int online_new(struct online **out, struct event_base *base, struct ardb *db,
               const struct chat_config *cfg)
{
    struct online *o = xcalloc(1, sizeof(*o));
    struct timeval tv = { 1, 0 };

    o->base = base;
    o->db = db;
    o->cfg = cfg;
    keys_presence(o->key, cfg->key_prefix);
    /* Every second: cheap (one ZADD, one short script) and it bounds how
     * late an offline announcement comes after the grace period. The
     * refresh itself only needs to beat the expiry, which it does. */
    o->tick = event_new(base, -1, EV_PERSIST, online_on_tick, o);
    evtimer_add(o->tick, &tv);
    *out = o;
    return 0;
}

void online_free(struct online *o)
{
    if (!o)
        return;
    while (o->users) {
        struct online_user *u = o->users;
        o->users = u->next;
        tdelete(u, &o->tree, online_cmp);
        free(u);
    }
    event_free(o->tick);
    free(o);
}

void online_add(struct online *o, const struct user_id *u)
{
    struct online_user key, *e, **found;

    key.id = *u;
    found = tfind(&key, &o->tree, online_cmp);
    if (found) {
        (*found)->conns++;
        return;
    }
    e = xcalloc(1, sizeof(*e));
    e->id = *u;
    e->conns = 1;
    tsearch(e, &o->tree, online_cmp);
    e->next = o->users;
    if (o->users)
        o->users->prev = e;
    o->users = e;
    o->n++;
    online_touch(o, u);
}

void online_remove(struct online *o, const struct user_id *u)
{
    struct online_user key, *e, **found;

    key.id = *u;
    found = tfind(&key, &o->tree, online_cmp);
    if (!found)
        return;
    e = *found;
    if (--e->conns > 0)
        return;
    tdelete(e, &o->tree, online_cmp);
    if (e->prev)
        e->prev->next = e->next;
    else
        o->users = e->next;
    if (e->next)
        e->next->prev = e->prev;
    o->n--;
    free(e);
}

unsigned long online_count(const struct online *o)
{
    return o->n;
}

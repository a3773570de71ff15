#include "presence.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "err.h"
#include "keys.h"
#include "valid.h"
#include "xmalloc.h"

int presence_check(struct rdb *db, const char *const *lnames, int n, bool *online)
{
    char key[KEY_MAX];
    const char **argv;
    redisReply *rep = NULL;
    long long now = clock_now_ms();
    int rc;

    if (n <= 0)
        return 0;
    keys_presence(key, db->cfg->key_prefix);
    argv = xcalloc((size_t)n + 2, sizeof(*argv));
    argv[0] = "ZMSCORE";
    argv[1] = key;
    for (int i = 0; i < n; i++)
        argv[i + 2] = lnames[i];
    rc = rdb_argv(db, &rep, n + 2, argv, NULL);
    free(argv);
    if (rc < 0)
        return rc;
    for (int i = 0; i < n; i++) {
        const redisReply *e = rdb_elem(rep, (size_t)i);
        online[i] = e && e->type == REDIS_REPLY_STRING && strtoll(e->str, NULL, 10) > now;
    }
    freeReplyObject(rep);
    return 0;
}

/* A de-duplicated list of display names with their lower-cased keys. */
struct presence_names {
    char (*name)[NAME_MAX_LEN + 1];
    char (*lname)[NAME_MAX_LEN + 1];
    int n, cap;
};

static void presence_names_add(struct presence_names *s, const char *name)
{
    char l[NAME_MAX_LEN + 1];

    if (valid_name_lower(l, name) < 0)
        return;
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->lname[i], l) == 0)
            return;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->name = xrealloc(s->name, (size_t)s->cap * sizeof(*s->name));
        s->lname = xrealloc(s->lname, (size_t)s->cap * sizeof(*s->lname));
    }
    memcpy(s->name[s->n], name, strlen(name) + 1);
    memcpy(s->lname[s->n], l, sizeof(l));
    s->n++;
}

static void presence_names_free(struct presence_names *s)
{
    free(s->name);
    free(s->lname);
    memset(s, 0, sizeof(*s));
}

/* Names from a comma list, resolved to how they were registered; unknown
 * users are simply not online. */
static int presence_from_csv(struct rdb *db, const char *csv, struct presence_names *s)
{
    char *copy = xstrdup(csv), *save = NULL, *tok;
    int rc = 0, count = 0;

    for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        struct user_id id;
        if (++count > PRESENCE_MAX_USERS || !valid_name(tok)) {
            rc = CHAT_ERR_INVALID;
            break;
        }
        rc = user_lookup(db, tok, &id);
        if (rc == CHAT_ERR_NOTFOUND) {
            rc = 0;
            continue;
        }
        if (rc < 0)
            break;
        presence_names_add(s, id.name);
    }
    free(copy);
    return rc;
}

/* DM peers and the members of every joined room. */
static int presence_contacts(struct rdb *db, const struct user_id *me, struct presence_names *s)
{
    const char *p = db->cfg->key_prefix;
    char k[KEY_MAX], lroom[NAME_MAX_LEN + 1];
    redisReply *peers = NULL, *rooms = NULL, *mem = NULL;
    int rc;

    keys_conv(k, p, me->lname);
    if ((rc = rdb_cmd(db, &peers, "ZREVRANGE %s 0 999", k)) < 0)
        return rc;
    for (size_t i = 0; i < peers->elements; i++)
        presence_names_add(s, peers->element[i]->str);
    freeReplyObject(peers);
    keys_user_rooms(k, p, me->lname);
    if ((rc = rdb_cmd(db, &rooms, "SMEMBERS %s", k)) < 0)
        return rc;
    for (size_t i = 0; i < rooms->elements && rc == 0; i++) {
        if (valid_name_lower(lroom, rooms->element[i]->str) < 0)
            continue;
        keys_members(k, p, lroom);
        if ((rc = rdb_cmd(db, &mem, "SRANDMEMBER %s 1000", k)) < 0)
            break;
        for (size_t j = 0; j < mem->elements; j++)
            if (strcasecmp(mem->element[j]->str, me->name) != 0)
                presence_names_add(s, mem->element[j]->str);
        freeReplyObject(mem);
    }
    freeReplyObject(rooms);
    return rc;
}

int presence_online(struct rdb *db, const struct user_id *me, const char *users_csv, cJSON **out)
{
    struct presence_names s = { 0 };
    bool *online = NULL;
    cJSON *arr;
    int rc;

    *out = NULL;
    rc = users_csv ? presence_from_csv(db, users_csv, &s) : presence_contacts(db, me, &s);
    if (rc < 0)
        goto out;
    online = xcalloc((size_t)s.n + 1, sizeof(*online));
    {
        const char **l = xcalloc((size_t)s.n + 1, sizeof(*l));
        for (int i = 0; i < s.n; i++)
            l[i] = s.lname[i];
        rc = presence_check(db, l, s.n, online);
        free(l);
    }
    if (rc < 0)
        goto out;
    *out = cJSON_CreateObject();
    arr = cJSON_AddArrayToObject(*out, "online");
    for (int i = 0; i < s.n; i++)
        if (online[i])
            cJSON_AddItemToArray(arr, cJSON_CreateString(s.name[i]));
out:
    free(online);
    presence_names_free(&s);
    return rc;
}

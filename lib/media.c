#include "media.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "err.h"
#include "keys.h"
#include "valid.h"
#include "xmalloc.h"

int media_type_allowed(const struct chat_config *cfg, const char *content_type, char out[128])
{
    size_t n;

    out[0] = '\0';
    if (!content_type)
        return 0;
    n = strcspn(content_type, "; \t");
    if (n == 0 || n >= 128)
        return 0;
    memcpy(out, content_type, n);
    out[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (out[i] >= 'A' && out[i] <= 'Z')
            out[i] = (char)(out[i] - 'A' + 'a');
    for (int i = 0; i < cfg->n_types; i++)
        if (strcasecmp(out, cfg->types[i]) == 0)
            return 1;
    return 0;
}

int media_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0 || n > MEDIA_NAME_MAX || !valid_utf8(name, n))
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f || c == '/' || c == '\\')
            return 0;
    }
    return 1;
}

static int media_hash_ok(const char *hash)
{
    if (strlen(hash) != MEDIA_HASH_LEN)
        return 0;
    for (int i = 0; i < MEDIA_HASH_LEN; i++)
        if (!((hash[i] >= '0' && hash[i] <= '9') || (hash[i] >= 'a' && hash[i] <= 'f')))
            return 0;
    return 1;
}

int media_hash_from_url(const char *url, char hash[MEDIA_HASH_LEN + 1])
{
    size_t p = sizeof(MEDIA_URL_PREFIX) - 1;

    if (!url || strncmp(url, MEDIA_URL_PREFIX, p) != 0 || !media_hash_ok(url + p))
        return -1;
    memcpy(hash, url + p, MEDIA_HASH_LEN + 1);
    return 0;
}

int media_register(struct rdb *db, const struct user_id *owner, const struct media_info *m)
{
    char k[KEY_MAX], convs[KEY_MAX], mine[CHAN_MAX];
    int rc, r, n = 0;

    keys_media(k, db->cfg->key_prefix, m->hash);
    keys_media_convs(convs, db->cfg->key_prefix, m->hash);
    keys_chan_inbox(mine, owner->lname);
    /* The same content uploaded again keeps its first description; every
     * uploader may use it (their inbox channel stands for "uploaded by"). */
    if ((rc = rdb_append(db, "HSETNX %s owner %s", k, owner->name)) == 0 && ++n &&
        (rc = rdb_append(db, "HSETNX %s mime %s", k, m->mime)) == 0 && ++n &&
        (rc = rdb_append(db, "HSETNX %s size %lld", k, m->size)) == 0 && ++n &&
        (rc = rdb_append(db, "HSETNX %s name %s", k, m->name)) == 0 && ++n &&
        (rc = rdb_append(db, "HSETNX %s created %lld", k, clock_now_ms())) == 0 && ++n &&
        (rc = rdb_append(db, "SADD %s %s", convs, mine)) == 0)
        ++n;
    while (n-- > 0) {
        redisReply *rep = NULL;
        if ((r = rdb_next(db, &rep)) < 0 && rc == 0)
            rc = r;
        if (rep)
            freeReplyObject(rep);
    }
    return rc;
}

int media_lookup(struct rdb *db, const char *hash, struct media_info *m)
{
    char k[KEY_MAX];
    redisReply *rep = NULL;
    const redisReply *e[4];
    int rc;

    memset(m, 0, sizeof(*m));
    if (!media_hash_ok(hash))
        return CHAT_ERR_INVALID;
    keys_media(k, db->cfg->key_prefix, hash);
    if ((rc = rdb_cmd(db, &rep, "HMGET %s mime size name owner", k)) < 0)
        return rc;
    for (int i = 0; i < 4; i++)
        e[i] = rdb_elem(rep, (size_t)i);
    if (!e[0] || e[0]->type != REDIS_REPLY_STRING) {
        freeReplyObject(rep);
        return CHAT_ERR_NOTFOUND;
    }
    snprintf(m->hash, sizeof(m->hash), "%s", hash);
    snprintf(m->mime, sizeof(m->mime), "%s", e[0]->str);
    m->size = rdb_int(e[1]);
    snprintf(m->name, sizeof(m->name), "%s", e[2] && e[2]->type == REDIS_REPLY_STRING ? e[2]->str : "file");
    snprintf(m->owner, sizeof(m->owner), "%s", e[3] && e[3]->type == REDIS_REPLY_STRING ? e[3]->str : "");
    freeReplyObject(rep);
    return 0;
}

cJSON *media_att_json(const struct media_info *m)
{
    cJSON *o = cJSON_CreateObject();
    char url[sizeof(MEDIA_URL_PREFIX) + MEDIA_HASH_LEN];

    snprintf(url, sizeof(url), "%s%s", MEDIA_URL_PREFIX, m->hash);
    cJSON_AddStringToObject(o, "url", url);
    cJSON_AddStringToObject(o, "mime", m->mime);
    cJSON_AddNumberToObject(o, "size", (double)m->size);
    cJSON_AddStringToObject(o, "name", m->name);
    return o;
}

int media_attach(struct rdb *db, const char *hash, const char *chan)
{
    char k[KEY_MAX];
    redisReply *rep = NULL;
    int rc;

    keys_media_convs(k, db->cfg->key_prefix, hash);
    if ((rc = rdb_cmd(db, &rep, "SADD %s %s", k, chan)) == 0)
        freeReplyObject(rep);
    return rc;
}

int media_allowed(struct rdb *db, const struct user_id *me, const char *hash, struct media_info *m)
{
    const char *p = db->cfg->key_prefix;
    char k[KEY_MAX];
    redisReply *convs = NULL, *rep = NULL;
    int rc;

    if ((rc = media_lookup(db, hash, m)) < 0)
        return rc;
    keys_media_convs(k, p, hash);
    if ((rc = rdb_cmd(db, &convs, "SMEMBERS %s", k)) < 0)
        return rc;
    rc = CHAT_ERR_FORBIDDEN;
    for (size_t i = 0; i < convs->elements && rc == CHAT_ERR_FORBIDDEN; i++) {
        const char *chan = convs->element[i]->str;
        if (strncmp(chan, "dm:", 3) == 0) {
            /* dm:<a>:<b>: names cannot hold ':' */
            const char *a = chan + 3, *colon = strchr(a, ':');
            if (colon && ((size_t)(colon - a) == strlen(me->lname) &&
                          strncmp(a, me->lname, (size_t)(colon - a)) == 0))
                rc = 0;
            else if (colon && strcmp(colon + 1, me->lname) == 0)
                rc = 0;
        } else if (strncmp(chan, "u:", 2) == 0) {
            if (strcmp(chan + 2, me->lname) == 0)
                rc = 0;   /* uploaded it */
        } else if (strncmp(chan, "r:", 2) == 0) {
            int r;
            keys_members(k, p, chan + 2);
            if ((r = rdb_cmd(db, &rep, "SISMEMBER %s %s", k, me->name)) < 0)
                rc = r;
            else {
                if (rdb_int(rep) == 1)
                    rc = 0;
                freeReplyObject(rep);
            }
        }
    }
    freeReplyObject(convs);
    return rc;
}

char *media_path(const struct chat_config *cfg, const char *hash)
{
    return xasprintf("%s/%s", cfg->media_dir, hash);
}

/* media — uploaded files: stored once under the SHA-256 of their content
 * in the media folder (outside htdocs), described in Redis, and served
 * only to users in a conversation that carries them (or the uploader).
 * The bytes go through the front server (X-Sendfile); this module only
 * decides and records. */
#ifndef SB_MEDIA_H
#define SB_MEDIA_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include "config.h"
#include "rdb.h"
#include "user.h"

#define MEDIA_HASH_LEN 64          /* hex SHA-256 */
#define MEDIA_NAME_MAX 255         /* bytes of the original file name */
#define MEDIA_URL_PREFIX "/api/media/"

struct media_info {
    char hash[MEDIA_HASH_LEN + 1];
    char mime[128];
    long long size;
    char name[MEDIA_NAME_MAX + 1];
    char owner[NAME_MAX_LEN + 1];
};

/* Whether mime (parameters such as "; charset=" ignored) is on the
 * configured allow-list; the bare type goes to out (128 bytes). */
int media_type_allowed(const struct chat_config *cfg, const char *content_type, char out[128]);

/* A file name fit to keep and show: valid UTF-8, 1..MEDIA_NAME_MAX bytes,
 * no control characters, no '/' or '\\'. */
int media_name_ok(const char *name);

/* Records an upload (the first upload's description is kept; every
 * uploader may use the file). The file is already at media_path(hash). */
int media_register(struct rdb *db, const struct user_id *owner, const struct media_info *m);

/* Fills m for hash (64 hex; must not point into m). CHAT_ERR_NOTFOUND if unknown,
 * CHAT_ERR_INVALID for a malformed hash. */
int media_lookup(struct rdb *db, const char *hash, struct media_info *m);

/* The hash of an attachment URL ("/api/media/<hash>"), or -1. */
int media_hash_from_url(const char *url, char hash[MEDIA_HASH_LEN + 1]);

/* The "att" member of events: {"url","mime","size","name"} (caller frees
 * with cJSON_Delete). */
cJSON *media_att_json(const struct media_info *m);

/* Notes that a conversation (its history channel) carries hash. */
int media_attach(struct rdb *db, const char *hash, const char *chan);

/* 0 if me may fetch hash: an uploader, or a party to a conversation
 * that carries it (a DM's two users, a room's members). Else
 * CHAT_ERR_FORBIDDEN (or CHAT_ERR_NOTFOUND for an unknown file). */
int media_allowed(struct rdb *db, const struct user_id *me, const char *hash, struct media_info *m);

/* The file's path under the media folder (caller frees). */
char *media_path(const struct chat_config *cfg, const char *hash);

#endif

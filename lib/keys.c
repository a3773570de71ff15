/* keys — every Redis key name is built here and nowhere else, so the
 * schema in keys.h is the whole truth about what lives in Redis. */
#include "keys.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int keys_fmt(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Returns the length, or -1 (out = "") rather than a truncated key that
 * would silently name some other key. */
static int keys_fmt(char *out, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(out, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size) {
        out[0] = '\0';
        return -1;
    }
    return n;
}

/* A NULL ingredient is a caller bug: refuse rather than print "(null)". */
static int keys_one(char out[KEY_MAX], const char *prefix, const char *kind, const char *arg)
{
    if (!prefix || !arg) {
        out[0] = '\0';
        return -1;
    }
    return keys_fmt(out, KEY_MAX, "%s%s:%s", prefix, kind, arg);
}

static int keys_bare(char out[KEY_MAX], const char *prefix, const char *kind)
{
    if (!prefix) {
        out[0] = '\0';
        return -1;
    }
    return keys_fmt(out, KEY_MAX, "%s%s", prefix, kind);
}

int keys_user(char out[KEY_MAX], const char *prefix, const char *name)
{
    return keys_one(out, prefix, "user", name);
}

int keys_users(char out[KEY_MAX], const char *prefix)
{
    return keys_bare(out, prefix, "users");
}

int keys_session(char out[KEY_MAX], const char *prefix, const char *tokhash)
{
    return keys_one(out, prefix, "sess", tokhash);
}

int keys_user_sessions(char out[KEY_MAX], const char *prefix, const char *name)
{
    return keys_one(out, prefix, "usess", name);
}

int keys_chan(char out[KEY_MAX], const char *prefix, const char *chan)
{
    return keys_one(out, prefix, "ch", chan);
}

int keys_meta(char out[KEY_MAX], const char *prefix, const char *chan)
{
    return keys_one(out, prefix, "meta", chan);
}

int keys_conv(char out[KEY_MAX], const char *prefix, const char *name)
{
    return keys_one(out, prefix, "conv", name);
}

int keys_unread(char out[KEY_MAX], const char *prefix, const char *name)
{
    return keys_one(out, prefix, "unread", name);
}

int keys_readmark(char out[KEY_MAX], const char *prefix, const char *name)
{
    return keys_one(out, prefix, "readmark", name);
}

int keys_clear(char out[KEY_MAX], const char *prefix, const char *name)
{
    return keys_one(out, prefix, "clear", name);
}

int keys_room(char out[KEY_MAX], const char *prefix, const char *room)
{
    return keys_one(out, prefix, "room", room);
}

int keys_rooms(char out[KEY_MAX], const char *prefix)
{
    return keys_bare(out, prefix, "rooms");
}

int keys_members(char out[KEY_MAX], const char *prefix, const char *room)
{
    return keys_one(out, prefix, "members", room);
}

int keys_user_rooms(char out[KEY_MAX], const char *prefix, const char *name)
{
    return keys_one(out, prefix, "urooms", name);
}

int keys_cid(char out[KEY_MAX], const char *prefix, const char *name, const char *cid)
{
    if (!prefix || !name || !cid) {
        out[0] = '\0';
        return -1;
    }
    return keys_fmt(out, KEY_MAX, "%scid:%s:%s", prefix, name, cid);
}

int keys_ratelimit(char out[KEY_MAX], const char *prefix, const char *kind, const char *subject)
{
    if (!prefix || !kind || !subject) {
        out[0] = '\0';
        return -1;
    }
    return keys_fmt(out, KEY_MAX, "%srl:%s:%s", prefix, kind, subject);
}

int keys_presence(char out[KEY_MAX], const char *prefix)
{
    return keys_bare(out, prefix, "presence");
}

int keys_media(char out[KEY_MAX], const char *prefix, const char *hash)
{
    return keys_one(out, prefix, "media", hash);
}

int keys_media_convs(char out[KEY_MAX], const char *prefix, const char *hash)
{
    if (!prefix || !hash) {
        out[0] = '\0';
        return -1;
    }
    return keys_fmt(out, KEY_MAX, "%smedia:%s:convs", prefix, hash);
}

int keys_chan_inbox(char out[CHAN_MAX], const char *name)
{
    if (!name) {
        out[0] = '\0';
        return -1;
    }
    return keys_fmt(out, CHAN_MAX, "u:%s", name);
}

int keys_chan_room(char out[CHAN_MAX], const char *room)
{
    if (!room) {
        out[0] = '\0';
        return -1;
    }
    return keys_fmt(out, CHAN_MAX, "r:%s", room);
}

int keys_chan_dm(char out[CHAN_MAX], const char *a, const char *b)
{
    if (!a || !b) {
        out[0] = '\0';
        return -1;
    }
    /* One list per pair whoever writes first: order the names. */
    if (strcmp(a, b) > 0) {
        const char *t = a;
        a = b;
        b = t;
    }
    return keys_fmt(out, CHAN_MAX, "dm:%s:%s", a, b);
}

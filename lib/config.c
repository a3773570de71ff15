/* config — one table describes every setting: where it lives in the INI
 * file, its type and bounds, where it goes in struct chat_config and its
 * default. inih splits lines; everything else (types, ranges, the
 * "FILE:LINE:" of an error) is decided here, once, at startup.
 *
 * Key names (section: key -> field):
 *   [redis]   host -> redis_host, port -> redis_port, socket -> redis_socket,
 *             db -> redis_db, password -> redis_password,
 *             timeout_ms -> redis_timeout_ms, prefix -> key_prefix
 *   [server]  threads, listen, backlog, log_level, log_file
 *   [limits]  max_body, max_text, history_cap, inbox_cap
 *   [auth]    session_ttl, pw_opslimit, pw_memlimit_kib, login_max_user,
 *             login_max_addr, login_window, allowed_origins (-> origins[]),
 *             secure_cookies
 *   [send]    send_max, send_window, cid_ttl
 *   [poll]    poll_timeout_default, poll_timeout_max, sse_heartbeat,
 *             sse_retry_ms, sse_stall, presence_grace, sweep_interval
 *   [ws]      listen -> ws_listen, admin -> ws_admin, workers -> ws_workers,
 *             max_message, max_output, ping_interval, handshake_timeout,
 *             max_header, typing_interval_ms, url (all ws_*)
 *   [upload]  media_dir, max_size -> upload_max, types -> upload_types
 *             (-> types[])
 *
 * inih reads lines into a fixed 200-byte buffer (Debian's build), so a
 * list that does not fit on one line continues on indented lines; each
 * continuation line is appended to the list. Continuations are refused
 * for every other key, and over-long lines are an error, never silently
 * split. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "log.h"
#include "xmalloc.h"

#ifndef SB_SYSCONFDIR
#define SB_SYSCONFDIR "/usr/local/etc"
#endif

#define CONFIG_DEFAULT_TYPES                                                              \
    "image/png image/jpeg image/gif image/webp video/mp4 video/webm audio/mpeg audio/ogg " \
    "application/pdf text/plain application/zip"

/* sizeof(struct sockaddr_un.sun_path) - 1 on Linux. */
#define CONFIG_PATH_UNIX_MAX 107
#define CONFIG_PATH_MAX 4095
#define CONFIG_LIST_MAX 4095
#define CONFIG_ORIGIN_MAX 255
#define CONFIG_TYPE_MAX 127

enum config_type { CONFIG_T_INT, CONFIG_T_STR, CONFIG_T_BOOL };

/* Extra rule for a string value. May fill derived fields of cfg, but only
 * once the value is known good, so a refused value changes nothing. */
typedef int (*config_check_fn)(struct chat_config *cfg, const char *value, char *why,
                               size_t whylen);

struct config_item {
    const char *section;
    const char *key;
    enum config_type type;
    long min, max;        /* value range; for strings, the length range */
    size_t offset;
    int def_int;
    const char *def_str;
    config_check_fn check;
    bool list;            /* may continue on indented lines */
};

static int config_check_prefix(struct chat_config *cfg, const char *value, char *why,
                               size_t whylen);
static int config_check_level(struct chat_config *cfg, const char *value, char *why,
                              size_t whylen);
static int config_check_listen(struct chat_config *cfg, const char *value, char *why,
                               size_t whylen);
static int config_set_origins(struct chat_config *cfg, const char *value, char *why,
                              size_t whylen);
static int config_set_types(struct chat_config *cfg, const char *value, char *why,
                            size_t whylen);

#define CONFIG_INT(sec, key, field, lo, hi, def) \
    {sec, key, CONFIG_T_INT, lo, hi, offsetof(struct chat_config, field), def, NULL, NULL, false}
#define CONFIG_BOOL(sec, key, field, def) \
    {sec, key, CONFIG_T_BOOL, 0, 1, offsetof(struct chat_config, field), def, NULL, NULL, false}
#define CONFIG_STR(sec, key, field, lo, hi, def, check) \
    {sec, key, CONFIG_T_STR, lo, hi, offsetof(struct chat_config, field), 0, def, check, false}
#define CONFIG_LIST(sec, key, field, def, check)                                              \
    {sec, key, CONFIG_T_STR, 0, CONFIG_LIST_MAX, offsetof(struct chat_config, field), 0, def, \
     check, true}

static const struct config_item config_table[] = {
    CONFIG_STR("redis", "host", redis_host, 1, 253, "127.0.0.1", NULL),
    CONFIG_INT("redis", "port", redis_port, 1, 65535, 6379),
    CONFIG_STR("redis", "socket", redis_socket, 0, CONFIG_PATH_UNIX_MAX, "", NULL),
    CONFIG_INT("redis", "db", redis_db, 0, 15, 0),
    CONFIG_STR("redis", "password", redis_password, 0, 512, "", NULL),
    CONFIG_INT("redis", "timeout_ms", redis_timeout_ms, 10, 10000, 500),
    CONFIG_STR("redis", "prefix", key_prefix, 0, 32, "sb:", config_check_prefix),

    CONFIG_INT("server", "threads", threads, 1, 256, 4),
    CONFIG_STR("server", "listen", listen, 0, CONFIG_PATH_UNIX_MAX, "", config_check_listen),
    CONFIG_INT("server", "backlog", backlog, 1, 65535, 1024),
    CONFIG_STR("server", "log_level", log_level, 1, 16, "info", config_check_level),
    CONFIG_STR("server", "log_file", log_file, 0, CONFIG_PATH_MAX, "", NULL),

    CONFIG_INT("limits", "max_body", max_body, 256, 16777216, 65536),
    CONFIG_INT("limits", "max_text", max_text, 1, 65536, 4096),
    CONFIG_INT("limits", "history_cap", history_cap, 10, 10000000, 10000),
    CONFIG_INT("limits", "inbox_cap", inbox_cap, 10, 10000000, 1000),

    CONFIG_INT("auth", "session_ttl", session_ttl, 60, 31536000, 2592000),
    CONFIG_INT("auth", "pw_opslimit", pw_opslimit, 1, 20, 2),
    CONFIG_INT("auth", "pw_memlimit_kib", pw_memlimit_kib, 8, 1048576, 65536),
    CONFIG_INT("auth", "login_max_user", login_max_user, 1, 100000, 10),
    CONFIG_INT("auth", "login_max_addr", login_max_addr, 1, 100000, 30),
    CONFIG_INT("auth", "login_window", login_window, 1, 86400, 300),
    CONFIG_LIST("auth", "allowed_origins", allowed_origins, "", config_set_origins),
    CONFIG_BOOL("auth", "secure_cookies", secure_cookies, 0),

    CONFIG_INT("send", "send_max", send_max, 1, 1000000, 60),
    CONFIG_INT("send", "send_window", send_window, 1, 86400, 10),
    CONFIG_INT("send", "cid_ttl", cid_ttl, 60, 604800, 86400),

    CONFIG_INT("poll", "poll_timeout_default", poll_timeout_default, 1, 55, 25),
    CONFIG_INT("poll", "poll_timeout_max", poll_timeout_max, 1, 3600, 55),
    CONFIG_INT("poll", "sse_heartbeat", sse_heartbeat, 1, 300, 15),
    CONFIG_INT("poll", "sse_retry_ms", sse_retry_ms, 100, 600000, 3000),
    CONFIG_INT("poll", "sse_stall", sse_stall, 1, 3600, 60),
    CONFIG_INT("poll", "presence_grace", presence_grace, 0, 3600, 10),
    CONFIG_INT("poll", "sweep_interval", sweep_interval, 1, 3600, 30),

    CONFIG_STR("ws", "listen", ws_listen, 1, 300, "127.0.0.1:8081", NULL),
    CONFIG_STR("ws", "admin", ws_admin, 0, 300, "127.0.0.1:8082", NULL),
    CONFIG_INT("ws", "workers", ws_workers, 1, 64, 1),
    CONFIG_INT("ws", "max_message", ws_max_message, 64, 16777216, 65536),
    CONFIG_INT("ws", "max_output", ws_max_output, 4096, 1073741824, 1048576),
    CONFIG_INT("ws", "ping_interval", ws_ping_interval, 1, 3600, 25),
    CONFIG_INT("ws", "handshake_timeout", ws_handshake_timeout, 1, 60, 5),
    CONFIG_INT("ws", "max_header", ws_max_header, 512, 65536, 8192),
    CONFIG_INT("ws", "typing_interval_ms", ws_typing_interval_ms, 0, 60000, 1000),
    CONFIG_STR("ws", "url", ws_url, 0, 300, "", NULL),

    CONFIG_STR("upload", "media_dir", media_dir, 1, CONFIG_PATH_MAX, "var/media", NULL),
    CONFIG_INT("upload", "max_size", upload_max, 1, 1073741824, 10485760),
    CONFIG_LIST("upload", "types", upload_types, CONFIG_DEFAULT_TYPES, config_set_types),
};

#define CONFIG_N_ITEMS (sizeof config_table / sizeof config_table[0])

static const struct config_item *config_find(const char *section, const char *key)
{
    size_t i;

    for (i = 0; i < CONFIG_N_ITEMS; i++)
        if (strcmp(config_table[i].section, section) == 0 &&
            strcmp(config_table[i].key, key) == 0)
            return &config_table[i];
    return NULL;
}

static int *config_int_field(struct chat_config *cfg, const struct config_item *it)
{
    return (int *)(void *)((char *)cfg + it->offset);
}

static char **config_str_field(struct chat_config *cfg, const struct config_item *it)
{
    return (char **)(void *)((char *)cfg + it->offset);
}

static void config_why(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void config_why(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------ checks */

static int config_check_prefix(struct chat_config *cfg, const char *value, char *why,
                               size_t whylen)
{
    const char *p;

    for (p = value; *p; p++) {
        if (!isalnum((unsigned char)*p) && !strchr("_:.-", *p)) {
            config_why(why, whylen, "only [A-Za-z0-9_:.-] allowed");
            return -1;
        }
    }
    return 0;
}

static int config_check_level(struct chat_config *cfg, const char *value, char *why,
                              size_t whylen)
{
    if (log_level_parse(value) < 0) {
        config_why(why, whylen, "expected error, warn, info or debug");
        return -1;
    }
    return 0;
}

static int config_check_listen(struct chat_config *cfg, const char *value, char *why,
                               size_t whylen)
{
    char *end;
    long port;

    if (value[0] != ':')
        return 0;
    errno = 0;
    port = strtol(value + 1, &end, 10);
    if (!isdigit((unsigned char)value[1]) || *end || errno || port < 1 || port > 65535) {
        config_why(why, whylen, "expected a unix socket path or :PORT (1..65535)");
        return -1;
    }
    return 0;
}

/* scheme://host[:port], exactly as a browser sends it in Origin. */
static bool config_origin_ok(const char *s, size_t len)
{
    size_t skip, i;

    if (len > 7 && strncmp(s, "http://", 7) == 0)
        skip = 7;
    else if (len > 8 && strncmp(s, "https://", 8) == 0)
        skip = 8;
    else
        return false;
    for (i = skip; i < len; i++)
        if (s[i] == '/' || (unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return len <= CONFIG_ORIGIN_MAX;
}

static bool config_mime_char(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$&^_.+-", c));
}

/* type/subtype, RFC 6838 restricted names. */
static bool config_type_ok(const char *s, size_t len)
{
    size_t i, slash = 0, n_slash = 0;

    if (len > CONFIG_TYPE_MAX)
        return false;
    for (i = 0; i < len; i++) {
        if (s[i] == '/') {
            slash = i;
            n_slash++;
        } else if (!config_mime_char((unsigned char)s[i])) {
            return false;
        }
    }
    return n_slash == 1 && slash > 0 && slash + 1 < len;
}

static void config_free_list(char **list, int *n)
{
    int i;

    for (i = 0; i < *n; i++) {
        free(list[i]);
        list[i] = NULL;
    }
    *n = 0;
}

/* Splits value on spaces, tabs and commas into out[] (max entries), each
 * token checked by ok(). On success the old entries of out are freed and
 * replaced; on failure out is untouched. */
static int config_split(const char *value, char **out, int *n, int max,
                        bool (*ok)(const char *, size_t), const char *what, char *why,
                        size_t whylen)
{
    char *tmp[CONFIG_MAX_TYPES > CONFIG_MAX_ORIGINS ? CONFIG_MAX_TYPES : CONFIG_MAX_ORIGINS];
    const char *p = value;
    int k = 0, i, rc = -1;

    while (*p) {
        size_t len = strcspn(p, " \t,");

        if (len == 0) {
            p++;
            continue;
        }
        if (k >= max) {
            config_why(why, whylen, "more than %d %ss", max, what);
            goto out;
        }
        if (!ok(p, len)) {
            config_why(why, whylen, "bad %s \"%.*s\"", what, (int)(len > 64 ? 64 : len), p);
            goto out;
        }
        tmp[k++] = xstrndup(p, len);
        p += len;
    }
    config_free_list(out, n);
    for (i = 0; i < k; i++)
        out[i] = tmp[i];
    *n = k;
    k = 0;
    rc = 0;
out:
    for (i = 0; i < k; i++)
        free(tmp[i]);
    return rc;
}

static int config_set_origins(struct chat_config *cfg, const char *value, char *why,
                              size_t whylen)
{
    return config_split(value, cfg->origins, &cfg->n_origins, CONFIG_MAX_ORIGINS,
                        config_origin_ok, "origin", why, whylen);
}

static int config_set_types(struct chat_config *cfg, const char *value, char *why,
                            size_t whylen)
{
    return config_split(value, cfg->types, &cfg->n_types, CONFIG_MAX_TYPES, config_type_ok,
                        "MIME type", why, whylen);
}

/* ------------------------------------------------------------ values */

static int config_parse_int(const char *value, long min, long max, int *out, char *why,
                            size_t whylen)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(value, &end, 10);
    /* strtol skips leading blanks and accepts an empty string as 0. */
    if (end == value || *end || isspace((unsigned char)value[0])) {
        config_why(why, whylen, "not an integer: \"%.64s\"", value);
        return -1;
    }
    if (errno == ERANGE || v < min || v > max) {
        config_why(why, whylen, "%.32s out of range %ld..%ld", value, min, max);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int config_parse_bool(const char *value, int *out, char *why, size_t whylen)
{
    static const char *const yes[] = {"1", "yes", "true", "on"};
    static const char *const no[] = {"0", "no", "false", "off"};
    size_t i;

    for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcasecmp(value, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(value, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    config_why(why, whylen, "expected a boolean (0/1, yes/no, true/false, on/off): \"%.32s\"",
               value);
    return -1;
}

/* Validates value for it and stores it; a refused value leaves cfg as it
 * was. */
static int config_set(struct chat_config *cfg, const struct config_item *it, const char *value,
                      char *why, size_t whylen)
{
    char **field;
    size_t len;
    int v;

    switch (it->type) {
    case CONFIG_T_INT:
        if (config_parse_int(value, it->min, it->max, &v, why, whylen) < 0)
            return -1;
        *config_int_field(cfg, it) = v;
        return 0;
    case CONFIG_T_BOOL:
        if (config_parse_bool(value, &v, why, whylen) < 0)
            return -1;
        *config_int_field(cfg, it) = v;
        return 0;
    case CONFIG_T_STR:
        len = strlen(value);
        if (len < (size_t)it->min || len > (size_t)it->max) {
            config_why(why, whylen, "length %zu not in %ld..%ld", len, it->min, it->max);
            return -1;
        }
        if (it->check && it->check(cfg, value, why, whylen) < 0)
            return -1;
        field = config_str_field(cfg, it);
        free(*field);
        *field = xstrdup(value);
        return 0;
    }
    config_why(why, whylen, "bad table entry");
    return -1;
}

/* ------------------------------------------------------------ public */

void config_defaults(struct chat_config *cfg)
{
    char why[256];
    size_t i;

    for (i = 0; i < CONFIG_N_ITEMS; i++) {
        const struct config_item *it = &config_table[i];

        if (it->type != CONFIG_T_STR) {
            *config_int_field(cfg, it) = it->def_int;
            continue;
        }
        /* Defaults go through the same checks as the file, so they also
         * fill origins[]/types[]; a refusal is a bug in the table. */
        if (config_set(cfg, it, it->def_str, why, sizeof why) < 0) {
            fprintf(stderr, "config: bad default for [%s] %s: %s\n", it->section, it->key, why);
            abort();
        }
    }
}

struct config_state {
    struct chat_config *cfg;
    const char *path;
    FILE *fp;
    int lineno;           /* of the line inih is processing */
    bool indented;        /* that line starts with a blank */
    const struct config_item *last; /* key of the last pair in this section */
    int fail_line;        /* 0 = no error yet */
    char *err;
    size_t errlen;
};

static void config_fail(struct config_state *st, const char *section, const char *key,
                        const char *why)
{
    if (st->fail_line)
        return;
    st->fail_line = st->lineno;
    if (!st->err || !st->errlen)
        return;
    if (key)
        snprintf(st->err, st->errlen, "%s:%d: [%s] %s: %s", st->path, st->lineno, section, key,
                 why);
    else
        snprintf(st->err, st->errlen, "%s:%d: %s", st->path, st->lineno, why);
}

/* fgets for inih that counts lines, notes what inih will take for a
 * continuation or a section header, and refuses lines that do not fit
 * its buffer (inih would otherwise read the rest as a new line). */
static char *config_read_line(char *str, int num, void *stream)
{
    struct config_state *st = stream;
    const char *p;
    size_t len;

    if (num < 2 || !fgets(str, num, st->fp))
        return NULL;
    st->lineno++;
    len = strlen(str);
    if (len > 0 && str[len - 1] != '\n') {
        int c = fgetc(st->fp);

        if (c != EOF && c != '\n') {
            char why[96];

            while (c != EOF && c != '\n')
                c = fgetc(st->fp);
            snprintf(why, sizeof why,
                     "line longer than %d bytes (continue a list on indented lines)", num - 3);
            config_fail(st, NULL, NULL, why);
            str[0] = '\n';
            str[1] = '\0';
        }
    }
    st->indented = str[0] == ' ' || str[0] == '\t';
    for (p = str; *p == ' ' || *p == '\t'; p++)
        ;
    if (*p == '[')
        st->last = NULL;
    return str;
}

/* Some inih releases leave " ; comment" on continuation lines; apply
 * the same inline-comment rule as on key = value lines. */
static void config_strip_comment(char *s)
{
    char *p, *end;

    for (p = s; *p; p++) {
        if (*p == ';' && p > s && (p[-1] == ' ' || p[-1] == '\t')) {
            *p = '\0';
            break;
        }
    }
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        *--end = '\0';
}

static int config_handler(void *user, const char *section, const char *name, const char *value)
{
    struct config_state *st = user;
    const struct config_item *it;
    char why[192];
    char *joined = NULL;
    int rc = 0;

    /* Only the first error is reported; keep inih from recording more. */
    if (st->fail_line)
        return 1;
    it = config_find(section, name);
    if (!it) {
        config_fail(st, section, name, "unknown key");
        goto out;
    }
    /* inih hands an indented line after a pair to the same key. */
    if (st->indented && st->last == it) {
        const char *cur = *config_str_field(st->cfg, it);

        if (!it->list) {
            config_fail(st, section, name, "continuation lines are only allowed for lists");
            goto out;
        }
        joined = xasprintf("%s %s", cur ? cur : "", value);
        config_strip_comment(joined);
        value = joined;
    }
    st->last = it;
    if (config_set(st->cfg, it, value, why, sizeof why) < 0) {
        config_fail(st, section, name, why);
        goto out;
    }
    rc = 1;
out:
    free(joined);
    return rc;
}

int config_load(struct chat_config *cfg, const char *path, char *err, size_t errlen)
{
    struct config_state st;
    int rc = CHAT_ERR_IO;
    int ini_rc;

    memset(&st, 0, sizeof st);
    st.cfg = cfg;
    st.path = path;
    st.err = err;
    st.errlen = errlen;
    if (err && errlen)
        err[0] = '\0';

    st.fp = fopen(path, "re");
    if (!st.fp) {
        if (err && errlen)
            snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        goto out;
    }
    ini_rc = ini_parse_stream(config_read_line, &st, config_handler, &st);
    if (ferror(st.fp)) {
        if (err && errlen)
            snprintf(err, errlen, "%s: read error", path);
        goto out;
    }
    rc = CHAT_ERR_INVALID;
    /* inih reports the first bad line; ours may come later. */
    if (ini_rc > 0 && (!st.fail_line || ini_rc < st.fail_line)) {
        if (err && errlen)
            snprintf(err, errlen, "%s:%d: syntax error (expected [section] or key = value)",
                     path, ini_rc);
        goto out;
    }
    if (st.fail_line || ini_rc != 0)
        goto out;
    rc = 0;
out:
    if (st.fp)
        fclose(st.fp);
    return rc;
}

const char *config_default_path(void)
{
    const char *env = getenv("SWITCHBOARD_CONF");

    if (env && *env)
        return env;
    return SB_SYSCONFDIR "/switchboard/switchboard.conf";
}

void config_free(struct chat_config *cfg)
{
    size_t i;

    if (!cfg)
        return;
    for (i = 0; i < CONFIG_N_ITEMS; i++) {
        if (config_table[i].type == CONFIG_T_STR) {
            char **field = config_str_field(cfg, &config_table[i]);
            free(*field);
            *field = NULL;
        }
    }
    config_free_list(cfg->origins, &cfg->n_origins);
    config_free_list(cfg->types, &cfg->n_types);
    /* Leaves cfg zeroed, ready for config_defaults again. */
    memset(cfg, 0, sizeof *cfg);
}

/* Unit tests for lib/config.c: defaults, the shipped file, overrides and
 * every kind of refusal with its FILE:LINE. Files live in a mkdtemp
 * directory removed at the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "err.h"

struct fixture {
    char dir[256];
    char path[300];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    int n;

    if (!f)
        return -1;
    n = snprintf(f->dir, sizeof f->dir, "%s/sb-test-config.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (n < 0 || (size_t)n >= sizeof f->dir || !mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/test.conf", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static const char *write_conf(struct fixture *f, const char *text)
{
    FILE *fp = fopen(f->path, "w");

    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
    return f->path;
}

/* Loads text over the defaults; returns the rc, the error in err. */
static int load_text(struct fixture *f, struct chat_config *cfg, const char *text, char *err,
                     size_t errlen)
{
    config_defaults(cfg);
    return config_load(cfg, write_conf(f, text), err, errlen);
}

static void assert_same_config(const struct chat_config *a, const struct chat_config *b)
{
    int i;

#define SAME_INT(field) assert_int_equal(a->field, b->field)
#define SAME_STR(field) assert_string_equal(a->field, b->field)
    SAME_STR(redis_host);
    SAME_INT(redis_port);
    SAME_STR(redis_socket);
    SAME_INT(redis_db);
    SAME_STR(redis_password);
    SAME_INT(redis_timeout_ms);
    SAME_STR(key_prefix);
    SAME_INT(threads);
    SAME_STR(listen);
    SAME_INT(backlog);
    SAME_STR(log_level);
    SAME_STR(log_file);
    SAME_INT(max_body);
    SAME_INT(max_text);
    SAME_INT(history_cap);
    SAME_INT(inbox_cap);
    SAME_INT(session_ttl);
    SAME_INT(pw_opslimit);
    SAME_INT(pw_memlimit_kib);
    SAME_INT(login_max_user);
    SAME_INT(login_max_addr);
    SAME_INT(login_window);
    SAME_STR(allowed_origins);
    SAME_INT(n_origins);
    SAME_INT(secure_cookies);
    SAME_INT(send_max);
    SAME_INT(send_window);
    SAME_INT(cid_ttl);
    SAME_INT(poll_timeout_default);
    SAME_INT(poll_timeout_max);
    SAME_INT(sse_heartbeat);
    SAME_INT(sse_retry_ms);
    SAME_INT(sse_stall);
    SAME_INT(presence_grace);
    SAME_INT(sweep_interval);
    SAME_STR(media_dir);
    SAME_INT(upload_max);
    SAME_STR(upload_types);
    SAME_INT(n_types);
#undef SAME_INT
#undef SAME_STR
    for (i = 0; i < a->n_origins; i++)
        assert_string_equal(a->origins[i], b->origins[i]);
    for (i = 0; i < a->n_types; i++)
        assert_string_equal(a->types[i], b->types[i]);
}

/* The documented defaults of config.h, spelled out once more. */
static void test_config_defaults(void **state)
{
    static const char *const types[] = {
        "image/png", "image/jpeg", "image/gif", "image/webp", "video/mp4", "video/webm",
        "audio/mpeg", "audio/ogg", "application/pdf", "text/plain", "application/zip",
    };
    struct chat_config cfg;
    size_t i;

    memset(&cfg, 0, sizeof cfg);
    config_defaults(&cfg);
    assert_string_equal(cfg.redis_host, "127.0.0.1");
    assert_int_equal(cfg.redis_port, 6379);
    assert_string_equal(cfg.redis_socket, "");
    assert_int_equal(cfg.redis_db, 0);
    assert_string_equal(cfg.redis_password, "");
    assert_int_equal(cfg.redis_timeout_ms, 500);
    assert_string_equal(cfg.key_prefix, "sb:");
    assert_int_equal(cfg.threads, 4);
    assert_string_equal(cfg.listen, "");
    assert_int_equal(cfg.backlog, 1024);
    assert_string_equal(cfg.log_level, "info");
    assert_string_equal(cfg.log_file, "");
    assert_int_equal(cfg.max_body, 65536);
    assert_int_equal(cfg.max_text, 4096);
    assert_int_equal(cfg.history_cap, 10000);
    assert_int_equal(cfg.inbox_cap, 1000);
    assert_int_equal(cfg.session_ttl, 2592000);
    assert_int_equal(cfg.pw_opslimit, 2);
    assert_int_equal(cfg.pw_memlimit_kib, 65536);
    assert_int_equal(cfg.login_max_user, 10);
    assert_int_equal(cfg.login_max_addr, 30);
    assert_int_equal(cfg.login_window, 300);
    assert_string_equal(cfg.allowed_origins, "");
    assert_int_equal(cfg.n_origins, 0);
    assert_int_equal(cfg.secure_cookies, 0);
    assert_int_equal(cfg.send_max, 60);
    assert_int_equal(cfg.send_window, 10);
    assert_int_equal(cfg.cid_ttl, 86400);
    assert_int_equal(cfg.poll_timeout_default, 25);
    assert_int_equal(cfg.poll_timeout_max, 55);
    assert_int_equal(cfg.sse_heartbeat, 15);
    assert_int_equal(cfg.sse_retry_ms, 3000);
    assert_int_equal(cfg.sse_stall, 60);
    assert_int_equal(cfg.presence_grace, 10);
    assert_int_equal(cfg.sweep_interval, 30);
    assert_string_equal(cfg.media_dir, "var/media");
    assert_int_equal(cfg.upload_max, 10485760);
    assert_int_equal(cfg.n_types, (int)(sizeof types / sizeof types[0]));
    for (i = 0; i < sizeof types / sizeof types[0]; i++)
        assert_string_equal(cfg.types[i], types[i]);
    config_free(&cfg);
    /* Freed means zeroed: defaults can be applied again. */
    assert_null(cfg.redis_host);
    assert_int_equal(cfg.n_types, 0);
    config_defaults(&cfg);
    config_free(&cfg);
    config_free(&cfg);
}

/* etc/switchboard.conf parses and says exactly the defaults. */
static void test_config_shipped_file(void **state)
{
    const char *top = getenv("top_srcdir");
    struct chat_config def, cfg;
    char path[4096], err[512];

    snprintf(path, sizeof path, "%s/etc/switchboard.conf", top && *top ? top : ".");
    memset(&def, 0, sizeof def);
    memset(&cfg, 0, sizeof cfg);
    config_defaults(&def);
    config_defaults(&cfg);
    if (config_load(&cfg, path, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_same_config(&cfg, &def);
    config_free(&def);
    config_free(&cfg);
}

static void test_config_overrides(void **state)
{
    struct fixture *f = *state;
    struct chat_config cfg;
    char err[512];
    int rc;

    memset(&cfg, 0, sizeof cfg);
    rc = load_text(f, &cfg,
                   "; comment\n"
                   "# another\n"
                   "[redis]\n"
                   "host = redis.internal\n"
                   "port=6380\n"
                   "prefix = test.1:\n"
                   "password = s3cret;not-a-comment ; but this is\n"
                   "\n"
                   "[auth]\n"
                   "secure_cookies = yes\n"
                   "allowed_origins = https://a.example, http://localhost:8080\n"
                   "[upload]\n"
                   "types = image/png,\n"
                   "  text/plain\n"
                   "\tapplication/x-tar+gzip ; comment\n"
                   "max_size = 1024\n"
                   "[server]\n"
                   "listen = :9000\n"
                   "log_level = debug\n"
                   "[redis]\n"
                   "port = 6381\n" /* a later section overrides */
                   "[auth]\n"
                   "secure_cookies = off\n",
                   err, sizeof err);
    if (rc != 0)
        fail_msg("%s", err);
    assert_string_equal(cfg.redis_host, "redis.internal");
    assert_int_equal(cfg.redis_port, 6381);
    assert_string_equal(cfg.key_prefix, "test.1:");
    assert_string_equal(cfg.redis_password, "s3cret;not-a-comment");
    assert_int_equal(cfg.secure_cookies, 0);
    assert_int_equal(cfg.n_origins, 2);
    assert_string_equal(cfg.origins[0], "https://a.example");
    assert_string_equal(cfg.origins[1], "http://localhost:8080");
    assert_int_equal(cfg.n_types, 3);
    assert_string_equal(cfg.types[0], "image/png");
    assert_string_equal(cfg.types[1], "text/plain");
    assert_string_equal(cfg.types[2], "application/x-tar+gzip");
    assert_int_equal(cfg.upload_max, 1024);
    assert_string_equal(cfg.listen, ":9000");
    assert_string_equal(cfg.log_level, "debug");
    assert_int_equal(cfg.threads, 4); /* untouched keys keep the default */

    /* An override file loaded after the first replaces values, lists
     * included (not appended to). */
    rc = config_load(&cfg, write_conf(f, "[upload]\ntypes = image/gif\n[auth]\nallowed_origins =\n"),
                     err, sizeof err);
    if (rc != 0)
        fail_msg("%s", err);
    assert_int_equal(cfg.n_types, 1);
    assert_string_equal(cfg.types[0], "image/gif");
    assert_int_equal(cfg.n_origins, 0);
    assert_string_equal(cfg.redis_host, "redis.internal");
    config_free(&cfg);
}

/* The same file with the override appended: the last value wins. */
static void test_config_appended_override(void **state)
{
    struct fixture *f = *state;
    struct chat_config cfg;
    char err[512];

    memset(&cfg, 0, sizeof cfg);
    if (load_text(f, &cfg,
                  "[limits]\nmax_text = 100\n[poll]\nsse_heartbeat = 5\n"
                  "[limits]\nmax_text = 200\n",
                  err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(cfg.max_text, 200);
    assert_int_equal(cfg.sse_heartbeat, 5);
    config_free(&cfg);
}

struct bad_case {
    const char *text;
    const char *expect; /* substring of the error, after "FILE" */
};

static void test_config_errors_table(void **state)
{
    static const struct bad_case cases[] = {
        {"[redis]\nhots = x\n", ":2: [redis] hots: unknown key"},
        {"[nosuch]\nport = 1\n", ":2: [nosuch] port: unknown key"},
        {"port = 1\n", ":1: [] port: unknown key"},
        {"[redis]\nport = 70000\n", ":2: [redis] port: 70000 out of range 1..65535"},
        {"[redis]\nport = 0\n", ":2: [redis] port: 0 out of range"},
        {"[redis]\nport = -1\n", ":2: [redis] port: -1 out of range"},
        {"[redis]\nport = abc\n", ":2: [redis] port: not an integer"},
        {"[redis]\nport =\n", ":2: [redis] port: not an integer"},
        {"[redis]\nport = 12abc\n", ":2: [redis] port: not an integer"},
        {"[redis]\nport = 0x50\n", ":2: [redis] port: not an integer"},
        {"[redis]\nport = 1.5\n", ":2: [redis] port: not an integer"},
        {"[server]\nthreads = 99999999999999999999\n", ":2: [server] threads: "},
        {"[server]\nthreads = 257\n", "out of range 1..256"},
        {"[redis]\ndb = 16\n", ":2: [redis] db:"},
        {"[redis]\nhost =\n", ":2: [redis] host: length 0"},
        {"[redis]\nprefix = a b\n", ":2: [redis] prefix: only [A-Za-z0-9_:.-]"},
        {"[redis]\nprefix = sb{x}\n", "prefix: only"},
        {"[redis]\nprefix = 012345678901234567890123456789012\n", "prefix: length 33"},
        {"[server]\nlog_level = loud\n", ":2: [server] log_level: expected error, warn"},
        {"[server]\nlisten = :0\n", ":2: [server] listen:"},
        {"[server]\nlisten = :70000\n", "listen:"},
        {"[server]\nlisten = :http\n", "listen:"},
        {"[auth]\nsecure_cookies = maybe\n", ":2: [auth] secure_cookies: expected a boolean"},
        {"[auth]\nallowed_origins = ftp://x\n", "allowed_origins: bad origin \"ftp://x\""},
        {"[auth]\nallowed_origins = https://x/path\n", "bad origin"},
        {"[auth]\nallowed_origins = https://\n", "bad origin"},
        {"[auth]\nallowed_origins = http://1 http://2 http://3 http://4 http://5 http://6 "
         "http://7 http://8 http://9 http://10 http://11 http://12 http://13 http://14 "
         "http://15 http://16 http://17\n",
         ":2: [auth] allowed_origins: more than 16 origins"},
        {"[upload]\ntypes = image\n", ":2: [upload] types: bad MIME type \"image\""},
        {"[upload]\ntypes = image/png /x\n", "bad MIME type \"/x\""},
        {"[upload]\ntypes = a/b/c\n", "bad MIME type"},
        {"[upload]\ntypes = a/1 a/2 a/3 a/4 a/5 a/6 a/7 a/8 a/9 a/10 a/11 a/12 a/13 a/14\n"
         "  a/15 a/16 a/17 a/18 a/19 a/20 a/21 a/22 a/23 a/24 a/25 a/26 a/27 a/28 a/29\n"
         "  a/30 a/31 a/32 a/33\n",
         ":4: [upload] types: more than 32 MIME types"},
        {"[upload]\nmax_size = 0\n", ":2: [upload] max_size:"},
        {"[redis]\nthis line has no equals sign\n", ":2: syntax error"},
        {"[redis\nport = 1\n", ":1: syntax error"},
        {"[redis]\nhost = a\n  b\n", ":3: [redis] host: continuation lines"},
        /* The first error is the one reported, whatever its kind. */
        {"[redis]\nport = 0\nhots = 1\n", ":2: [redis] port:"},
        {"[redis]\nbad line\nport = 0\n", ":2: syntax error"},
        {"[redis]\nport = 0\nbad line\n", ":2: [redis] port:"},
    };
    struct fixture *f = *state;
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct chat_config cfg;
        char err[512];
        int rc;

        memset(&cfg, 0, sizeof cfg);
        rc = load_text(f, &cfg, cases[i].text, err, sizeof err);
        if (rc != CHAT_ERR_INVALID)
            fail_msg("case %zu: rc %d, err \"%s\"", i, rc, err);
        /* Every message starts with the file name. */
        if (strncmp(err, f->path, strlen(f->path)) != 0 || !strstr(err, cases[i].expect))
            fail_msg("case %zu: err \"%s\", wanted \"%s\"", i, err, cases[i].expect);
        /* A refused value leaves a usable, freeable config. */
        assert_non_null(cfg.redis_host);
        config_free(&cfg);
    }
}

/* inih reads lines into a fixed buffer; a longer line is refused rather
 * than read as two lines. */
static void test_config_long_line(void **state)
{
    struct fixture *f = *state;
    struct chat_config cfg;
    char text[1024], err[512];
    int rc, n;

    n = snprintf(text, sizeof text, "[redis]\npassword = ");
    memset(text + n, 'x', 400);
    snprintf(text + n + 400, sizeof text - (size_t)n - 400, "\nport = 1\n");
    memset(&cfg, 0, sizeof cfg);
    rc = load_text(f, &cfg, text, err, sizeof err);
    assert_int_equal(rc, CHAT_ERR_INVALID);
    if (!strstr(err, ":2: line longer than"))
        fail_msg("err \"%s\"", err);
    config_free(&cfg);

    /* Just below the limit is fine, and line numbers stay right. */
    n = snprintf(text, sizeof text, "[redis]\npassword = ");
    memset(text + n, 'y', 150);
    snprintf(text + n + 150, sizeof text - (size_t)n - 150, "\nport = 0\n");
    memset(&cfg, 0, sizeof cfg);
    rc = load_text(f, &cfg, text, err, sizeof err);
    assert_int_equal(rc, CHAT_ERR_INVALID);
    if (!strstr(err, ":3: [redis] port:"))
        fail_msg("err \"%s\"", err);
    assert_int_equal(strlen(cfg.redis_password), 150);
    config_free(&cfg);
}

static void test_config_missing_file(void **state)
{
    struct fixture *f = *state;
    struct chat_config cfg;
    char path[320], err[512];

    snprintf(path, sizeof path, "%s/does-not-exist.conf", f->dir);
    memset(&cfg, 0, sizeof cfg);
    config_defaults(&cfg);
    assert_int_equal(config_load(&cfg, path, err, sizeof err), CHAT_ERR_IO);
    assert_non_null(strstr(err, path));
    /* A failed load leaves the defaults. */
    assert_int_equal(cfg.redis_port, 6379);
    /* No error buffer is fine too. */
    assert_int_equal(config_load(&cfg, path, NULL, 0), CHAT_ERR_IO);
    config_free(&cfg);
}

static void test_config_small_err_buffer(void **state)
{
    struct fixture *f = *state;
    struct chat_config cfg;
    char err[8];

    memset(&cfg, 0, sizeof cfg);
    assert_int_equal(load_text(f, &cfg, "[redis]\nport = 0\n", err, sizeof err),
                     CHAT_ERR_INVALID);
    assert_int_equal(strlen(err), sizeof err - 1);
    config_free(&cfg);
}

static void test_config_default_path(void **state)
{
    setenv("SWITCHBOARD_CONF", "/x/y.conf", 1);
    assert_string_equal(config_default_path(), "/x/y.conf");
    setenv("SWITCHBOARD_CONF", "", 1);
    assert_non_null(strstr(config_default_path(), "/switchboard/switchboard.conf"));
    unsetenv("SWITCHBOARD_CONF");
    assert_non_null(strstr(config_default_path(), "/switchboard/switchboard.conf"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_config_shipped_file),
        cmocka_unit_test_setup_teardown(test_config_overrides, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_appended_override, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_errors_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_long_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_small_err_buffer, setup, teardown),
        cmocka_unit_test(test_config_default_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

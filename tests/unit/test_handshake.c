/* Unit tests for wsgate/handshake.c and wsgate/wsop.c: case tables for
 * the opening handshake (RFC 6455 section 4) and for the checks every
 * client message goes through. Each input is copied into a buffer of
 * exactly its length, so a sanitizer build catches any read past len. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handshake.h"
#include "wsop.h"
#include "xmalloc.h"

#define KEY "dGhlIHNhbXBsZSBub25jZQ==" /* RFC 6455 section 1.3 */
#define LINE "GET /ws HTTP/1.1\r\n"
#define HOST "Host: chat.example\r\n"
#define UPG "Upgrade: websocket\r\n"
#define CONN "Connection: Upgrade\r\n"
#define HKEY "Sec-WebSocket-Key: " KEY "\r\n"
#define VER "Sec-WebSocket-Version: 13\r\n"
#define REQ_OK LINE HOST UPG CONN HKEY VER "\r\n"

/* ------------------------------------------------------------ parse */

#define HS_REFUSED (-1)
/* A refused request: no field is checked. _N: a literal with NUL bytes. */
#define REFUSED(name, req, status) {name, req, 0, status, NULL, NULL, NULL, NULL, NULL, NULL, NULL}
#define REFUSED_N(name, req, status) {name, req, sizeof(req) - 1, status, NULL, NULL, NULL, NULL, NULL, NULL, NULL}

struct hs_case {
    const char *name;
    const char *req;
    size_t len; /* 0 = strlen(req) */
    int status; /* or HS_REFUSED: any of 400, 405, 426 */
    /* Checked when status is 0; NULL = the header is absent. */
    const char *path, *query, *key, *host, *origin, *cookie, *authorization;
};

/* Whether field is NULL or a string that starts and ends inside buf. */
static int hs_inside(const char *field, const char *buf, size_t len)
{
    return !field ||
           (field >= buf && field < buf + len && memchr(field, '\0', (size_t)(buf + len - field)));
}

/* Whether got is what the case wants; fills err if not. */
static int hs_field_ok(const char *what, const char *got, const char *want, char *err, size_t errlen)
{
    if ((!want && !got) || (want && got && strcmp(want, got) == 0))
        return 1;
    snprintf(err, errlen, "%s is \"%s\", want \"%s\"", what, got ? got : "(null)",
             want ? want : "(null)");
    return 0;
}

/* Runs one case on its own exact-size copy; checks the invariants every
 * answer keeps, then the fields. Returns 0, or -1 with err filled. */
static int hs_check(const struct hs_case *c, char *err, size_t errlen)
{
    size_t len = c->len ? c->len : strlen(c->req);
    char *buf = xmalloc(len);
    struct handshake hs;
    const char *why = NULL;
    int status, rc = -1;

    memcpy(buf, c->req, len);
    status = handshake_parse(buf, len, &hs, &why);
    if (status != c->status && !(c->status == HS_REFUSED && status != 0)) {
        snprintf(err, errlen, "status %d (%s), want %d", status, why ? why : "(null)", c->status);
        goto out;
    }
    if (!why || !*why) {
        snprintf(err, errlen, "no reason given");
        goto out;
    }
    if (status != 0) {
        if (status != 400 && status != 405 && status != 426) {
            snprintf(err, errlen, "status %d is not one the header promises", status);
            goto out;
        }
        rc = 0;
        goto out;
    }
    if (len < 4 || memcmp(c->req + len - 4, "\r\n\r\n", 4) != 0) {
        snprintf(err, errlen, "accepted without the blank line");
        goto out;
    }
    if (strcmp(why, "ok") != 0 || !hs.path || !hs.query || !hs.key || hs.path[0] != '/' ||
        strchr(hs.path, '?') || strlen(hs.key) != 24) {
        snprintf(err, errlen, "accepted without a path, a query and a 24-character key");
        goto out;
    }
    if (!hs_inside(hs.path, buf, len) || !hs_inside(hs.key, buf, len) || !hs_inside(hs.host, buf, len) ||
        !hs_inside(hs.origin, buf, len) || !hs_inside(hs.cookie, buf, len) ||
        !hs_inside(hs.authorization, buf, len) || (hs.query[0] && !hs_inside(hs.query, buf, len))) {
        snprintf(err, errlen, "a field points outside the request");
        goto out;
    }
    if (!hs_field_ok("path", hs.path, c->path, err, errlen) ||
        !hs_field_ok("query", hs.query, c->query, err, errlen) ||
        !hs_field_ok("key", hs.key, c->key, err, errlen) ||
        !hs_field_ok("host", hs.host, c->host, err, errlen) ||
        !hs_field_ok("origin", hs.origin, c->origin, err, errlen) ||
        !hs_field_ok("cookie", hs.cookie, c->cookie, err, errlen) ||
        !hs_field_ok("authorization", hs.authorization, c->authorization, err, errlen))
        goto out;
    rc = 0;
out:
    free(buf);
    return rc;
}

static void hs_run(const struct hs_case *c)
{
    char err[256];

    if (hs_check(c, err, sizeof err) < 0)
        fail_msg("%s: %s", c->name, err);
}

static void test_handshake_parse_ok(void **state)
{
    static const struct hs_case cases[] = {
        {"minimal", REQ_OK, 0, 0, "/ws", "", KEY, "chat.example", NULL, NULL, NULL},
        {"every header we keep",
         LINE HOST "Origin: https://chat.example\r\nCookie: sb=abc; x=y\r\n"
                   "Authorization: Bearer t0k3n\r\n" UPG CONN HKEY VER "\r\n",
         0, 0, "/ws", "", KEY, "chat.example", "https://chat.example", "sb=abc; x=y", "Bearer t0k3n"},
        {"names in any case",
         LINE "hOST: h\r\nupgrade: WebSocket\r\nCONNECTION: UPGRADE\r\nsec-websocket-key: " KEY
              "\r\nSEC-WEBSOCKET-VERSION: 13\r\norigin: o\r\n\r\n",
         0, 0, "/ws", "", KEY, "h", "o", NULL, NULL},
        {"spaces and tabs around values",
         LINE "Host:h\r\nUpgrade:   websocket \t\r\nConnection:\tUpgrade\t\r\n"
              "Sec-WebSocket-Key:  " KEY "  \r\nSec-WebSocket-Version: \t13 \r\n\r\n",
         0, 0, "/ws", "", KEY, "h", NULL, NULL, NULL},
        {"Connection: keep-alive, Upgrade", LINE UPG "Connection: keep-alive, Upgrade\r\n" HKEY VER "\r\n",
         0, 0, "/ws", "", KEY, NULL, NULL, NULL, NULL},
        {"Connection: Upgrade,keep-alive", LINE UPG "Connection: Upgrade,keep-alive\r\n" HKEY VER "\r\n",
         0, 0, "/ws", "", KEY, NULL, NULL, NULL, NULL},
        {"Connection: keep-alive ,  upgrade ,", LINE UPG "Connection: keep-alive ,  upgrade ,\r\n" HKEY VER "\r\n",
         0, 0, "/ws", "", KEY, NULL, NULL, NULL, NULL},
        {"Upgrade lists websocket second", LINE "Upgrade: h2c, websocket\r\n" CONN HKEY VER "\r\n",
         0, 0, "/ws", "", KEY, NULL, NULL, NULL, NULL},
        {"query split off", "GET /ws?cursor=abc&x=1 HTTP/1.1\r\n" UPG CONN HKEY VER "\r\n",
         0, 0, "/ws", "cursor=abc&x=1", KEY, NULL, NULL, NULL, NULL},
        {"empty query", "GET /ws? HTTP/1.1\r\n" UPG CONN HKEY VER "\r\n",
         0, 0, "/ws", "", KEY, NULL, NULL, NULL, NULL},
        {"second ? stays in the query", "GET /a/b?x=?y HTTP/1.1\r\n" UPG CONN HKEY VER "\r\n",
         0, 0, "/a/b", "x=?y", KEY, NULL, NULL, NULL, NULL},
        {"root path", "GET / HTTP/1.1\r\n" UPG CONN HKEY VER "\r\n",
         0, 0, "/", "", KEY, NULL, NULL, NULL, NULL},
        {"unknown headers ignored", LINE "X-Forwarded-For: 10.0.0.1\r\nX-Empty:\r\n" UPG CONN HKEY VER "\r\n",
         0, 0, "/ws", "", KEY, NULL, NULL, NULL, NULL},
        {"empty Origin kept", LINE "Origin:\r\n" UPG CONN HKEY VER "\r\n",
         0, 0, "/ws", "", KEY, NULL, "", NULL, NULL},
        {"another valid key", LINE UPG CONN "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n" VER "\r\n",
         0, 0, "/ws", "", "AAAAAAAAAAAAAAAAAAAAAA==", NULL, NULL, NULL, NULL},
        {"key with + and /", LINE UPG CONN "Sec-WebSocket-Key: +/+/+/+/+/+/+/+/+/+/+w==\r\n" VER "\r\n",
         0, 0, "/ws", "", "+/+/+/+/+/+/+/+/+/+/+w==", NULL, NULL, NULL, NULL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        hs_run(&cases[i]);
}

static void test_handshake_parse_refused(void **state)
{
    static const struct hs_case cases[] = {
        /* Upgrade / Connection */
        REFUSED("no Upgrade", LINE HOST CONN HKEY VER "\r\n", 400),
        REFUSED("Upgrade: h2c", LINE HOST "Upgrade: h2c\r\n" CONN HKEY VER "\r\n", 400),
        REFUSED("Upgrade: websockets", LINE HOST "Upgrade: websockets\r\n" CONN HKEY VER "\r\n", 400),
        REFUSED("Upgrade: web socket", LINE HOST "Upgrade: web socket\r\n" CONN HKEY VER "\r\n", 400),
        REFUSED("empty Upgrade", LINE HOST "Upgrade:\r\n" CONN HKEY VER "\r\n", 400),
        REFUSED("space before colon", LINE HOST "Upgrade : websocket\r\n" CONN HKEY VER "\r\n", 400),
        REFUSED("no Connection", LINE HOST UPG HKEY VER "\r\n", 400),
        REFUSED("Connection: keep-alive", LINE HOST UPG "Connection: keep-alive\r\n" HKEY VER "\r\n", 400),
        REFUSED("Connection: Upgraded", LINE HOST UPG "Connection: Upgraded\r\n" HKEY VER "\r\n", 400),
        REFUSED("Connection: keep-alive-upgrade", LINE HOST UPG "Connection: keep-alive-upgrade\r\n" HKEY VER "\r\n", 400),
        /* Sec-WebSocket-Key */
        REFUSED("no key", LINE HOST UPG CONN VER "\r\n", 400),
        REFUSED("empty key", LINE HOST UPG CONN "Sec-WebSocket-Key:\r\n" VER "\r\n", 400),
        REFUSED("short key", LINE HOST UPG CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=\r\n" VER "\r\n", 400),
        REFUSED("long key", LINE HOST UPG CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ===\r\n" VER "\r\n", 400),
        REFUSED("20-byte key", LINE HOST UPG CONN "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n" VER "\r\n", 400),
        REFUSED("key without padding", LINE HOST UPG CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQAA\r\n" VER "\r\n", 400),
        REFUSED("key with !", LINE HOST UPG CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ!==\r\n" VER "\r\n", 400),
        REFUSED("key with -", LINE HOST UPG CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ-==\r\n" VER "\r\n", 400),
        REFUSED("key with =", LINE HOST UPG CONN "Sec-WebSocket-Key: dGhl=HNhbXBsZSBub25jZQ==\r\n" VER "\r\n", 400),
        REFUSED("key with space", LINE HOST UPG CONN "Sec-WebSocket-Key: dGhlIHNhbX BsZSBub25jZQ==\r\n" VER "\r\n", 400),
        REFUSED("key with UTF-8", LINE HOST UPG CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j\xc3\xa9==\r\n" VER "\r\n", 400),
        /* Sec-WebSocket-Version: refused with 426 */
        REFUSED("version 8", LINE HOST UPG CONN HKEY "Sec-WebSocket-Version: 8\r\n\r\n", 426),
        REFUSED("no version", LINE HOST UPG CONN HKEY "\r\n", 426),
        REFUSED("empty version", LINE HOST UPG CONN HKEY "Sec-WebSocket-Version:\r\n\r\n", 426),
        REFUSED("version 013", LINE HOST UPG CONN HKEY "Sec-WebSocket-Version: 013\r\n\r\n", 426),
        REFUSED("version list", LINE HOST UPG CONN HKEY "Sec-WebSocket-Version: 13, 8\r\n\r\n", 426),
        /* request line */
        REFUSED("POST", "POST /ws HTTP/1.1\r\n" HOST UPG CONN HKEY VER "\r\n", 405),
        REFUSED("lower-case get", "get /ws HTTP/1.1\r\n" HOST UPG CONN HKEY VER "\r\n", 405),
        REFUSED("OPTIONS", "OPTIONS /ws HTTP/1.1\r\n" HOST UPG CONN HKEY VER "\r\n", 405),
        REFUSED("HTTP/1.0", "GET /ws HTTP/1.0\r\n" HOST UPG CONN HKEY VER "\r\n", 400),
        REFUSED("HTTP/2.0", "GET /ws HTTP/2.0\r\n" HOST UPG CONN HKEY VER "\r\n", 400),
        REFUSED("lower-case protocol", "GET /ws http/1.1\r\n" HOST UPG CONN HKEY VER "\r\n", 400),
        REFUSED("no protocol", "GET /ws\r\n" HOST UPG CONN HKEY VER "\r\n", 400),
        REFUSED("method only", "GET\r\n" HOST UPG CONN HKEY VER "\r\n", 400),
        REFUSED("two spaces", "GET  /ws HTTP/1.1\r\n" HOST UPG CONN HKEY VER "\r\n", 400),
        REFUSED("trailing space", "GET /ws HTTP/1.1 \r\n" HOST UPG CONN HKEY VER "\r\n", 400),
        REFUSED("absolute URI", "GET http://h/ws HTTP/1.1\r\n" HOST UPG CONN HKEY VER "\r\n", 400),
        REFUSED("asterisk", "GET * HTTP/1.1\r\n" HOST UPG CONN HKEY VER "\r\n", 400),
        REFUSED("empty request line", "\r\n" HOST UPG CONN HKEY VER "\r\n", 400),
        REFUSED("blank line only", "\r\n\r\n", 400),
        REFUSED("too short", "\r\n\r", 400),
        REFUSED("one byte", "G", 400),
        REFUSED("request line only", LINE "\r\n", 400),
        REFUSED("LF-only line ends", "GET /ws HTTP/1.1\nHost: h\nUpgrade: websocket\nConnection: Upgrade\n"
                                     "Sec-WebSocket-Key: " KEY "\nSec-WebSocket-Version: 13\n\n", 400),
        REFUSED("headers after the blank line", LINE "\r\n" UPG CONN HKEY VER "\r\n", 400),
        /* header syntax */
        REFUSED("header without colon", LINE HOST "Upgrade websocket\r\n" CONN HKEY VER "\r\n", 400),
        REFUSED("header with empty name", LINE HOST ": websocket\r\n" UPG CONN HKEY VER "\r\n", 400),
        REFUSED("folded header (space)", LINE HOST "Upgrade:\r\n websocket\r\n" CONN HKEY VER "\r\n", 400),
        REFUSED("folded header (tab)", LINE HOST UPG CONN HKEY VER "X-Long: a\r\n\tb\r\n\r\n", 400),
        REFUSED("header line of spaces", LINE HOST "   \r\n" UPG CONN HKEY VER "\r\n", 400),
        REFUSED_N("NUL in a header", LINE "X-A: a\0b\r\n" HOST UPG CONN HKEY VER "\r\n", 400),
        REFUSED_N("NUL in the key", LINE HOST UPG CONN "Sec-WebSocket-Key: " KEY "\0\r\n" VER "\r\n", 400),
        REFUSED_N("NUL first", "\0" REQ_OK, 400),
        REFUSED_N("NUL last", REQ_OK "\0", 400),
        /* The head must end with its blank line. */
        REFUSED("no blank line", LINE UPG CONN HKEY VER HOST, 400),
        REFUSED("LF only at the end", LINE HOST UPG CONN HKEY VER "\n", 400),
        REFUSED("bytes after the blank line", REQ_OK "\x81", 400),
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        hs_run(&cases[i]);
}

/* The parser takes len, not the string: a valid request cut short of its
 * blank line is refused, and bytes past len are never looked at. */
static void test_handshake_parse_truncated(void **state)
{
    static const char req[] = REQ_OK;
    struct hs_case c = REFUSED("truncated", req, HS_REFUSED);

    (void)state;
    for (c.len = 1; c.len < sizeof req - 1; c.len++)
        hs_run(&c);
}

/* ------------------------------------------------------------ head_len */

struct head_case {
    const char *name;
    const char *in;
    size_t len; /* 0 = strlen(in) */
    size_t want;
};

static void test_handshake_head_len(void **state)
{
    static const struct head_case cases[] = {
        {"empty", "", 0, 0},
        {"CRLF CR", "\r\n\r", 0, 0},
        {"blank line only", "\r\n\r\n", 0, 4},
        {"complete request", REQ_OK, 0, sizeof(REQ_OK) - 1},
        {"request then a frame", REQ_OK "\x81\x85\x01\x02\x03\x04", 0, sizeof(REQ_OK) - 1},
        {"first blank line wins", "a\r\n\r\nb\r\n\r\n", 0, 5},
        {"LF before", "\n\r\n\r\n", 0, 5},
        {"LF only", "GET / HTTP/1.1\n\n", 0, 0},
        {"mixed endings", "GET / HTTP/1.1\r\n\n", 0, 0},
        {"CR CR LF LF", "a\r\r\n\n", 0, 0},
        {"incomplete", LINE HOST UPG, 0, 0},
        {"cut in the last CRLF", REQ_OK, sizeof(REQ_OK) - 2, 0},
        {"NUL before the end", "a\0\r\n\r\n", 6, 6},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].in);
        char *buf = xmalloc(len);
        size_t got;

        memcpy(buf, cases[i].in, len);
        got = handshake_head_len(buf, len);
        free(buf);
        if (got != cases[i].want)
            fail_msg("%s: %zu, want %zu", cases[i].name, got, cases[i].want);
        assert_true(got <= len);
    }
    assert_int_equal(handshake_head_len(NULL, 0), 0);
}

/* ------------------------------------------------------------ accept */

static void test_handshake_accept(void **state)
{
    static const struct {
        const char *key, *accept;
    } cases[] = {
        {"dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}, /* RFC 6455 section 1.3 */
        {"x3JJHMbDL1EzLkh9GBhXDw==", "HSmrc0sMlYUkAGmm5OPpG2HaGWk="},
        {"AAAAAAAAAAAAAAAAAAAAAA==", "ICX+Yqv66kxgM0FcWaLWlFLwTAI="},
    };
    char out[HANDSHAKE_ACCEPT_LEN + 1];

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(out, 'x', sizeof out);
        handshake_accept(cases[i].key, out);
        assert_string_equal(out, cases[i].accept);
        assert_int_equal(strlen(out), HANDSHAKE_ACCEPT_LEN);
    }
    /* A key longer than any valid one is cut, never overflows. */
    {
        char big[300];
        memset(big, 'A', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        memset(out, 'x', sizeof out);
        handshake_accept(big, out);
        assert_int_equal(strlen(out), HANDSHAKE_ACCEPT_LEN);
    }
}

/* The path wsconn takes: find the head, parse a copy, answer the key. */
static void test_handshake_end_to_end(void **state)
{
    static const char stream[] = "GET /ws?cursor=c1 HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                                 "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"
                                 "Sec-WebSocket-Version: 13\r\n\r\n\x81\x80\0\0\0\0";
    char out[HANDSHAKE_ACCEPT_LEN + 1];
    struct handshake hs;
    const char *why;
    size_t head = handshake_head_len(stream, sizeof stream - 1);
    char *buf = NULL;

    (void)state;
    assert_int_equal(head, sizeof stream - 1 - 6);
    buf = xmalloc(head + 1);
    memcpy(buf, stream, head);
    buf[head] = '\0';
    assert_int_equal(handshake_parse(buf, head, &hs, &why), 0);
    assert_string_equal(hs.query, "cursor=c1");
    handshake_accept(hs.key, out);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    free(buf);
}

/* ------------------------------------------------------------ wsop */

#define WHY_SHAPE "each message must be a JSON object with an op"
#define WHY_UNKNOWN "unknown op"

struct op_case {
    const char *name;
    uint8_t opcode;
    const char *msg;
    size_t len; /* 0 = strlen(msg) */
    enum wsop_kind kind;
    uint16_t close_code;
    const char *why; /* NULL for the known ops */
};

/* Parses one case; returns NULL or what went wrong. Single exit, so the
 * op is freed whatever the outcome. */
static const char *op_check(const struct op_case *c)
{
    size_t len = c->len ? c->len : strlen(c->msg);
    uint8_t *msg = xmalloc(len);
    const char *err = NULL;
    struct wsop op;

    memcpy(msg, c->msg, len);
    memset(&op, 0xa5, sizeof op);
    wsop_parse(c->opcode, len ? msg : NULL, len, &op);
    if (op.kind != c->kind) {
        err = "wrong kind";
        goto out;
    }
    if (op.close_code != c->close_code) {
        err = "wrong close code";
        goto out;
    }
    if ((op.why == NULL) != (c->why == NULL) || (op.why && strcmp(op.why, c->why) != 0)) {
        err = "wrong reason";
        goto out;
    }
    switch (op.kind) {
    case WSOP_CLOSE:
        if (op.json)
            err = "a close carries JSON";
        break;
    case WSOP_ERROR:
        break;
    default: {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(op.json, "op");
        if (!cJSON_IsObject(op.json) || !cJSON_IsString(name))
            err = "a known op without its JSON object";
        break;
    }
    }
out:
    wsop_free(&op);
    if (!err && op.json)
        err = "wsop_free left json set";
    wsop_free(&op); /* twice is harmless */
    free(msg);
    return err;
}

static void op_run(const struct op_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *err = op_check(&cases[i]);
        if (err)
            fail_msg("%s: %s", cases[i].name, err);
    }
}

static void test_wsop_close(void **state)
{
    static const struct op_case cases[] = {
        {"binary", 2, "{\"op\":\"ping\"}", 0, WSOP_CLOSE, 1003, "text frames only"},
        {"empty binary", 2, "", 0, WSOP_CLOSE, 1003, "text frames only"},
        {"binary, bad UTF-8", 2, "\xff\xfe", 0, WSOP_CLOSE, 1003, "text frames only"},
        {"continuation", 0, "{\"op\":\"ping\"}", 0, WSOP_CLOSE, 1003, "text frames only"},
        {"close", 8, "", 0, WSOP_CLOSE, 1003, "text frames only"},
        {"ping", 9, "", 0, WSOP_CLOSE, 1003, "text frames only"},
        {"reserved", 3, "{\"op\":\"ping\"}", 0, WSOP_CLOSE, 1003, "text frames only"},
        {"0xff", 0xff, "x", 0, WSOP_CLOSE, 1003, "text frames only"},
        {"0xff byte", 1, "\xff", 0, WSOP_CLOSE, 1007, "invalid UTF-8"},
        {"lone continuation", 1, "{\"op\":\"\x80\"}", 0, WSOP_CLOSE, 1007, "invalid UTF-8"},
        {"overlong", 1, "{\"op\":\"\xc0\xaf\"}", 0, WSOP_CLOSE, 1007, "invalid UTF-8"},
        {"surrogate", 1, "{\"op\":\"send\",\"text\":\"\xed\xa0\x80\"}", 0, WSOP_CLOSE, 1007, "invalid UTF-8"},
        {"past U+10FFFF", 1, "\xf4\x90\x80\x80", 0, WSOP_CLOSE, 1007, "invalid UTF-8"},
        {"truncated at the end", 1, "{\"op\":\"ping\"}\xe2\x82", 0, WSOP_CLOSE, 1007, "invalid UTF-8"},
        {"raw NUL", 1, "{\"op\":\"ping\"}\0", 14, WSOP_CLOSE, 1007, "invalid UTF-8"},
        {"Latin-1", 1, "{\"op\":\"send\",\"text\":\"caf\xe9\"}", 0, WSOP_CLOSE, 1007, "invalid UTF-8"},
    };

    (void)state;
    op_run(cases, sizeof cases / sizeof cases[0]);
}

static void test_wsop_error(void **state)
{
    static const struct op_case cases[] = {
        {"empty", 1, "", 0, WSOP_ERROR, 0, WHY_SHAPE},
        {"not JSON", 1, "hello", 0, WSOP_ERROR, 0, WHY_SHAPE},
        {"truncated JSON", 1, "{\"op\":\"ping\"", 0, WSOP_ERROR, 0, WHY_SHAPE},
        {"array", 1, "[{\"op\":\"ping\"}]", 0, WSOP_ERROR, 0, WHY_SHAPE},
        {"string", 1, "\"ping\"", 0, WSOP_ERROR, 0, WHY_SHAPE},
        {"number", 1, "42", 0, WSOP_ERROR, 0, WHY_SHAPE},
        {"null", 1, "null", 0, WSOP_ERROR, 0, WHY_SHAPE},
        {"empty object", 1, "{}", 0, WSOP_ERROR, 0, WHY_SHAPE},
        {"no op", 1, "{\"type\":\"ping\"}", 0, WSOP_ERROR, 0, WHY_SHAPE},
        {"op in another case", 1, "{\"Op\":\"ping\"}", 0, WSOP_ERROR, 0, WHY_SHAPE},
        {"op a number", 1, "{\"op\":1}", 0, WSOP_ERROR, 0, WHY_SHAPE},
        {"op null", 1, "{\"op\":null}", 0, WSOP_ERROR, 0, WHY_SHAPE},
        {"op true", 1, "{\"op\":true}", 0, WSOP_ERROR, 0, WHY_SHAPE},
        {"op an array", 1, "{\"op\":[\"ping\"]}", 0, WSOP_ERROR, 0, WHY_SHAPE},
        {"op an object", 1, "{\"op\":{\"op\":\"ping\"}}", 0, WSOP_ERROR, 0, WHY_SHAPE},
        {"unknown op", 1, "{\"op\":\"shutdown\"}", 0, WSOP_ERROR, 0, WHY_UNKNOWN},
        {"empty op", 1, "{\"op\":\"\"}", 0, WSOP_ERROR, 0, WHY_UNKNOWN},
        {"op in upper case", 1, "{\"op\":\"PING\"}", 0, WSOP_ERROR, 0, WHY_UNKNOWN},
        {"op prefix", 1, "{\"op\":\"pin\"}", 0, WSOP_ERROR, 0, WHY_UNKNOWN},
        {"op with suffix", 1, "{\"op\":\"pings\"}", 0, WSOP_ERROR, 0, WHY_UNKNOWN},
        {"op with space", 1, "{\"op\":\" ping\"}", 0, WSOP_ERROR, 0, WHY_UNKNOWN},
        {"op in UTF-8", 1, "{\"op\":\"p\xc3\xafng\"}", 0, WSOP_ERROR, 0, WHY_UNKNOWN},
        /* cJSON would cut a string at "\u0000": refused wherever it is. */
        {"escaped NUL", 1, "{\"op\":\"\\u0000\"}", 0, WSOP_ERROR, 0, WHY_SHAPE},
        {"escaped NUL after ping", 1, "{\"op\":\"ping\\u0000junk\"}", 0, WSOP_ERROR, 0, WHY_SHAPE},
        {"escaped NUL in the text", 1, "{\"op\":\"send\",\"to\":\"bob\",\"text\":\"a\\u0000b\"}", 0,
         WSOP_ERROR, 0, WHY_SHAPE},
        {"escaped NUL in a name", 1, "{\"op\":\"ping\",\"x\\u0000\":1}", 0, WSOP_ERROR, 0, WHY_SHAPE},
        /* One object and nothing after it but blanks. */
        {"text after the object", 1, "{\"op\":\"ping\"}x", 0, WSOP_ERROR, 0, WHY_SHAPE},
        {"two objects", 1, "{\"op\":\"ping\"}{\"op\":\"send\"}", 0, WSOP_ERROR, 0, WHY_SHAPE},
        {"object then array", 1, "{\"op\":\"ping\"} []", 0, WSOP_ERROR, 0, WHY_SHAPE},
        {"control byte after", 1, "{\"op\":\"ping\"}\x01", 0, WSOP_ERROR, 0, WHY_SHAPE},
        {"lone surrogate escape", 1, "{\"op\":\"\\ud800\"}", 0, WSOP_ERROR, 0, WHY_SHAPE},
    };

    (void)state;
    op_run(cases, sizeof cases / sizeof cases[0]);
}

static void test_wsop_known(void **state)
{
    static const struct op_case cases[] = {
        {"ping", 1, "{\"op\":\"ping\"}", 0, WSOP_PING, 0, NULL},
        {"send to", 1, "{\"op\":\"send\",\"to\":\"bob\",\"text\":\"hi\",\"cid\":\"c1\"}", 0, WSOP_SEND, 0, NULL},
        {"send to a room", 1, "{\"op\":\"send\",\"room\":\"#lobby\",\"text\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}", 0,
         WSOP_SEND, 0, NULL},
        {"typing", 1, "{\"op\":\"typing\",\"to\":\"bob\"}", 0, WSOP_TYPING, 0, NULL},
        {"resume", 1, "{\"op\":\"resume\",\"cursor\":\"abc\"}", 0, WSOP_RESUME, 0, NULL},
        {"whitespace around", 1, " \n\t{ \"op\" :\r\n \"ping\" }\n ", 0, WSOP_PING, 0, NULL},
        {"op last", 1, "{\"x\":[1,{\"op\":\"send\"}],\"op\":\"typing\"}", 0, WSOP_TYPING, 0, NULL},
        {"escaped op", 1, "{\"op\":\"p\\u0069ng\"}", 0, WSOP_PING, 0, NULL},
        /* An escaped backslash before "u0000" is text, not a NUL. */
        {"backslash then u0000", 1, "{\"op\":\"send\",\"to\":\"bob\",\"text\":\"\\\\u0000\"}", 0,
         WSOP_SEND, 0, NULL},
        {"blanks after", 1, "{\"op\":\"ping\"} \r\n\t", 0, WSOP_PING, 0, NULL},
        /* len, not the terminator, ends the message. */
        {"bytes past len", 1, "{\"op\":\"ping\"}{{{", 13, WSOP_PING, 0, NULL},
    };

    (void)state;
    op_run(cases, sizeof cases / sizeof cases[0]);
}

/* Deep nesting is refused by cJSON's limit, not by the stack. */
static void test_wsop_deep(void **state)
{
    enum { DEPTH = 5000 };
    struct op_case c = {"deep", 1, NULL, 0, WSOP_ERROR, 0, WHY_SHAPE};
    char *msg = xmalloc(2 * DEPTH + 1);

    (void)state;
    memset(msg, '[', DEPTH);
    memset(msg + DEPTH, ']', DEPTH);
    msg[2 * DEPTH] = '\0';
    c.msg = msg;
    {
        const char *err = op_check(&c);
        free(msg);
        if (err)
            fail_msg("%s: %s", c.name, err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_parse_ok),
        cmocka_unit_test(test_handshake_parse_refused),
        cmocka_unit_test(test_handshake_parse_truncated),
        cmocka_unit_test(test_handshake_head_len),
        cmocka_unit_test(test_handshake_accept),
        cmocka_unit_test(test_handshake_end_to_end),
        cmocka_unit_test(test_wsop_close),
        cmocka_unit_test(test_wsop_error),
        cmocka_unit_test(test_wsop_known),
        cmocka_unit_test(test_wsop_deep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

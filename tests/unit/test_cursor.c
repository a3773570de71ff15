/* Unit tests for lib/cursor.c: set/find invariants, round trips, and
 * every way a client-supplied cursor can be refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "err.h"

/* base64url (no padding) of text, as a client would forge it. */
static char *b64(const char *text, size_t len)
{
    size_t n = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = malloc(n);

    assert_non_null(out);
    sodium_bin2base64(out, n, (const unsigned char *)text, len,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return out;
}

static void check_sorted(const struct cursor *c)
{
    int i;

    for (i = 1; i < c->n; i++)
        assert_true(strcmp(c->pos[i - 1].chan, c->pos[i].chan) < 0);
}

static void test_cursor_set_find(void **state)
{
    struct cursor c;
    const struct cursor_pos *p;

    cursor_init(&c);
    assert_null(cursor_find(&c, "u:alice"));
    assert_int_equal(cursor_set(&c, "u:alice", "00ff", 5), 0);
    assert_int_equal(cursor_set(&c, "r:lobby", "", 0), 0);
    assert_int_equal(cursor_set(&c, "dm:a:b", "1", 9), 0);
    assert_int_equal(c.n, 3);
    check_sorted(&c);
    /* Replacing keeps one entry per channel. */
    assert_int_equal(cursor_set(&c, "u:alice", "00ff", 7), 0);
    assert_int_equal(c.n, 3);
    p = cursor_find(&c, "u:alice");
    assert_non_null(p);
    assert_int_equal(p->id, 7);
    assert_string_equal(p->epoch, "00ff");
    p = cursor_find(&c, "r:lobby");
    assert_non_null(p);
    assert_string_equal(p->epoch, "");
    assert_null(cursor_find(&c, "r:other"));
    cursor_free(&c);
    assert_int_equal(c.n, 0);
    assert_null(c.pos);
    /* Re-usable after free. */
    assert_int_equal(cursor_set(&c, "u:x", "e", 1), 0);
    cursor_free(&c);
    cursor_free(&c);
}

static void test_cursor_set_invalid(void **state)
{
    static const struct {
        const char *chan, *epoch;
        long long id;
    } cases[] = {
        {"", "e", 1},
        {"u:a b", "e", 1},
        {"u:a\nb", "e", 1},
        {"u:a", "e f", 1},
        {"u:a", "e\n", 1},
        {"u:a", "e", -1},
        {"u:a", "0123456789abcdef01234567", 1}, /* EPOCH_MAX chars: no room for NUL */
        {"u:a\x01", "e", 1},
    };
    char longchan[CHAN_MAX + 1];
    struct cursor c;
    size_t i;

    cursor_init(&c);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (cursor_set(&c, cases[i].chan, cases[i].epoch, cases[i].id) != CHAT_ERR_INVALID)
            fail_msg("set case %zu accepted", i);
    memset(longchan, 'c', CHAN_MAX);
    longchan[CHAN_MAX] = '\0';
    assert_int_equal(cursor_set(&c, longchan, "e", 1), CHAT_ERR_INVALID);
    longchan[CHAN_MAX - 1] = '\0';
    assert_int_equal(cursor_set(&c, longchan, "e", 1), 0);
    assert_int_equal(cursor_set(&c, NULL, "e", 1), CHAT_ERR_INVALID);
    assert_int_equal(c.n, 1);
    cursor_free(&c);
}

static void test_cursor_round_trip(void **state)
{
    struct cursor a, b;
    char *s, *s2;
    int i;

    cursor_init(&a);
    cursor_init(&b);
    /* Empty cursor: "" and back. */
    s = cursor_encode(&a);
    assert_string_equal(s, "");
    assert_int_equal(cursor_decode(&b, s), 0);
    assert_int_equal(b.n, 0);
    free(s);

    assert_int_equal(cursor_set(&a, "u:alice", "a1b2c3d4e5f60718", 9223372036854775807LL), 0);
    assert_int_equal(cursor_set(&a, "r:lobby", "", 0), 0);
    assert_int_equal(cursor_set(&a, "dm:alice:bob", "ff", 42), 0);
    s = cursor_encode(&a);
    assert_null(strpbrk(s, "+/="));
    assert_int_equal(cursor_decode(&b, s), 0);
    assert_int_equal(b.n, a.n);
    for (i = 0; i < a.n; i++) {
        const struct cursor_pos *p = cursor_find(&b, a.pos[i].chan);
        assert_non_null(p);
        assert_string_equal(p->epoch, a.pos[i].epoch);
        assert_int_equal(p->id, a.pos[i].id);
    }
    /* Canonical: same content, same string. */
    s2 = cursor_encode(&b);
    assert_string_equal(s, s2);
    free(s);
    free(s2);

    /* Many entries, inserted in reverse order. */
    cursor_free(&a);
    for (i = CURSOR_MAX_CHANS - 1; i >= 0; i--) {
        char chan[CHAN_MAX];
        snprintf(chan, sizeof chan, "r:room%04d", i);
        assert_int_equal(cursor_set(&a, chan, "e", i), 0);
    }
    check_sorted(&a);
    s = cursor_encode(&a);
    assert_int_equal(cursor_decode(&b, s), 0);
    assert_int_equal(b.n, CURSOR_MAX_CHANS);
    check_sorted(&b);
    assert_int_equal(cursor_find(&b, "r:room0777")->id, 777);
    free(s);
    cursor_free(&a);
    cursor_free(&b);
}

/* Decoding accepts any entry order and sorts it. */
static void test_cursor_decode_unsorted(void **state)
{
    static const char text[] = "u:b e 2\nu:a e 1\n";
    struct cursor c;
    char *s = b64(text, sizeof text - 1);

    cursor_init(&c);
    assert_int_equal(cursor_decode(&c, s), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.pos[0].chan, "u:a");
    assert_int_equal(cursor_find(&c, "u:b")->id, 2);
    free(s);
    /* The unpadded form of the padded case refused below. */
    assert_int_equal(cursor_decode(&c, "dTphIGUgMQo"), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(cursor_find(&c, "u:a")->id, 1);
    cursor_free(&c);
}

static void test_cursor_decode_invalid(void **state)
{
    static const char *const texts[] = {
        "u:a e 1",                 /* no final newline */
        "u:a e\n",                 /* no id */
        "u:a 1\n",                 /* two fields */
        "u:a e 1 2\n",             /* four fields */
        "u:a e -1\n",              /* negative id */
        "u:a e +1\n",
        "u:a e 1x\n",
        "u:a e \n",                /* empty id */
        "u:a e 99999999999999999999\n", /* overflows long long */
        " e 1\n",                  /* empty chan */
        "u:a e 1\nu:a f 2\n",      /* duplicate chan */
        "u:b e 1\nu:a e 1\nu:b e 3\n", /* duplicate, not adjacent */
        "u:a 0123456789abcdef01234567 1\n", /* epoch too long */
        "\n",
        "u:a\te 1\n",
    };
    static const char *const raw[] = {
        "!!!!",     /* not base64 */
        "dTphIGUgMQo=", /* padding is not base64url-no-padding */
        "dTph+GUgMQo",  /* '+' is standard base64 */
        "dTphIGUgMQo ", /* trailing blank */
        "A",            /* impossible length */
    };
    struct cursor c;
    size_t i;

    cursor_init(&c);
    for (i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        char *s = b64(texts[i], strlen(texts[i]));

        /* A failed decode leaves c empty even if it held entries. */
        assert_int_equal(cursor_set(&c, "u:keep", "e", 1), 0);
        if (cursor_decode(&c, s) != CHAT_ERR_INVALID)
            fail_msg("text case %zu accepted", i);
        assert_int_equal(c.n, 0);
        free(s);
    }
    for (i = 0; i < sizeof raw / sizeof raw[0]; i++) {
        if (cursor_decode(&c, raw[i]) != CHAT_ERR_INVALID)
            fail_msg("raw case %zu accepted", i);
        assert_int_equal(c.n, 0);
    }
    assert_int_equal(cursor_decode(&c, NULL), CHAT_ERR_INVALID);
    /* Embedded NUL in the decoded text. */
    {
        char *s = b64("u:a\0 e 1\n", 9);
        assert_int_equal(cursor_decode(&c, s), CHAT_ERR_INVALID);
        free(s);
    }
    cursor_free(&c);
}

static void test_cursor_decode_limits(void **state)
{
    struct cursor c;
    size_t cap = (size_t)(CURSOR_MAX_CHANS + 1) * 16 + 1, len = 0;
    char *text = malloc(cap), *s, *huge;
    int i;

    cursor_init(&c);
    assert_non_null(text);
    for (i = 0; i <= CURSOR_MAX_CHANS; i++)
        len += (size_t)snprintf(text + len, cap - len, "r:%d e 1\n", i);
    s = b64(text, len);
    assert_true(strlen(s) <= CURSOR_MAX_LEN);
    assert_int_equal(cursor_decode(&c, s), CHAT_ERR_INVALID); /* too many chans */
    assert_int_equal(c.n, 0);
    free(s);

    huge = malloc(CURSOR_MAX_LEN + 2);
    assert_non_null(huge);
    memset(huge, 'A', CURSOR_MAX_LEN + 1);
    huge[CURSOR_MAX_LEN + 1] = '\0';
    assert_int_equal(cursor_decode(&c, huge), CHAT_ERR_INVALID); /* too long */
    free(huge);
    free(text);
    cursor_free(&c);
}

/* The piecewise encoder gives cursor_encode's string, byte for byte. */
static void test_cursor_line(void **state)
{
    static const struct {
        const char *chan, *epoch;
        long long id;
        const char *line;
    } cases[] = {
        { "u:alice", "00ff", 0, "u:alice 00ff 0\n" },
        { "r:lobby", "", 7, "r:lobby  7\n" },
        { "r:x", "0123456789abcdef", 9223372036854775807LL, "r:x 0123456789abcdef 9223372036854775807\n" },
        { "u:b", "1", 1000000, "u:b 1 1000000\n" },
    };
    char line[CURSOR_LINE_MAX], text[4 * CURSOR_LINE_MAX], out[8 * CURSOR_LINE_MAX];
    struct cursor c;
    size_t tlen = 0, n;
    char *want;

    (void)state;
    cursor_init(&c);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        n = cursor_line(line, cases[i].chan, cases[i].epoch, cases[i].id);
        assert_int_equal(n, strlen(cases[i].line));
        assert_memory_equal(line, cases[i].line, n);
        assert_int_equal(cursor_set(&c, cases[i].chan, cases[i].epoch, cases[i].id), 0);
    }
    /* Lines in cursor order (sorted by chan) make the text. */
    for (int i = 0; i < c.n; i++)
        tlen += cursor_line(text + tlen, c.pos[i].chan, c.pos[i].epoch, c.pos[i].id);
    n = cursor_encode_text(out, text, tlen);
    assert_int_equal(n, cursor_encoded_len(tlen));
    assert_int_equal(strlen(out), n);
    want = cursor_encode(&c);
    assert_string_equal(out, want);
    free(want);
    /* Empty text: the empty cursor. */
    assert_int_equal(cursor_encode_text(out, "", 0), 0);
    assert_string_equal(out, "");
    cursor_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cursor_set_find),
        cmocka_unit_test(test_cursor_line),
        cmocka_unit_test(test_cursor_set_invalid),
        cmocka_unit_test(test_cursor_round_trip),
        cmocka_unit_test(test_cursor_decode_unsorted),
        cmocka_unit_test(test_cursor_decode_invalid),
        cmocka_unit_test(test_cursor_decode_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

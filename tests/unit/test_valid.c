/* Unit tests for lib/valid.c: case tables, then the edges of UTF-8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "err.h"
#include "valid.h"

struct name_case {
    const char *in;
    bool ok;
    const char *lower;
};

static void test_valid_name_table(void **state)
{
    static const struct name_case cases[] = {
        {"alice", true, "alice"},
        {"Alice", true, "alice"},
        {"BOB_the-2nd.x", true, "bob_the-2nd.x"},
        {"a", true, "a"},
        {"9lives", true, "9lives"},
        {"abcdefghijklmnopqrstuvwxyz012345", true, "abcdefghijklmnopqrstuvwxyz012345"},
        {"abcdefghijklmnopqrstuvwxyz0123456", false, ""}, /* 33 chars */
        {"", false, ""},
        {"_alice", false, ""},
        {".alice", false, ""},
        {"-alice", false, ""},
        {"al ice", false, ""},
        {"al:ice", false, ""},
        {"al#ice", false, ""},
        {"al/ice", false, ""},
        {"al\nice", false, ""},
        {"\xc3\xa9t\xc3\xa9", false, ""},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[NAME_MAX_LEN + 1];
        int rc;

        memset(out, 'x', sizeof out);
        assert_int_equal(valid_name(cases[i].in), cases[i].ok);
        rc = valid_name_lower(out, cases[i].in);
        assert_int_equal(rc, cases[i].ok ? 0 : CHAT_ERR_INVALID);
        assert_string_equal(out, cases[i].lower);
    }
    assert_false(valid_name(NULL));
}

struct utf8_case {
    const char *in;
    size_t len; /* 0 = strlen */
    bool ok;
};

static void test_valid_utf8_table(void **state)
{
    static const struct utf8_case cases[] = {
        {"hello", 0, true},
        {"", 0, true},
        {"caf\xc3\xa9", 0, true},                /* U+00E9 */
        {"\xc2\x80", 0, true},                   /* U+0080, smallest 2-byte */
        {"\xdf\xbf", 0, true},                   /* U+07FF */
        {"\xe0\xa0\x80", 0, true},               /* U+0800 */
        {"\xe2\x82\xac", 0, true},               /* euro sign */
        {"\xed\x9f\xbf", 0, true},               /* U+D7FF, below surrogates */
        {"\xee\x80\x80", 0, true},               /* U+E000, above surrogates */
        {"\xef\xbf\xbf", 0, true},               /* U+FFFF */
        {"\xf0\x90\x80\x80", 0, true},           /* U+10000 */
        {"\xf0\x9f\x98\x80", 0, true},           /* emoji */
        {"\xf4\x8f\xbf\xbf", 0, true},           /* U+10FFFF */
        {"\xc0\x80", 0, false},                  /* overlong NUL */
        {"\xc1\xbf", 0, false},                  /* overlong 2-byte */
        {"\xe0\x80\x80", 0, false},              /* overlong 3-byte */
        {"\xe0\x9f\xbf", 0, false},              /* overlong U+07FF */
        {"\xf0\x80\x80\x80", 0, false},          /* overlong 4-byte */
        {"\xf0\x8f\xbf\xbf", 0, false},          /* overlong U+FFFF */
        {"\xed\xa0\x80", 0, false},              /* U+D800 surrogate */
        {"\xed\xbf\xbf", 0, false},              /* U+DFFF surrogate */
        {"\xed\xa0\xbd\xed\xb8\x80", 0, false},  /* CESU-8 pair */
        {"\xf4\x90\x80\x80", 0, false},          /* U+110000 */
        {"\xf5\x80\x80\x80", 0, false},          /* lead past F4 */
        {"\xf8\x88\x80\x80\x80", 0, false},      /* 5-byte form */
        {"\xff", 0, false},
        {"\xfe", 0, false},
        {"\x80", 0, false},                      /* lone continuation */
        {"a\xbf" "b", 0, false},
        {"\xc3", 0, false},                      /* truncated 2-byte */
        {"\xe2\x82", 0, false},                  /* truncated 3-byte */
        {"\xf0\x9f\x98", 0, false},              /* truncated 4-byte */
        {"\xc3" "a", 0, false},                  /* bad continuation */
        {"\xe2\x28\xa1", 0, false},
        {"\xf0\x9f\x98" "a", 0, false},
        {"a\0b", 3, false},                      /* NUL inside */
        {"\0", 1, false},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].in);
        if (valid_utf8(cases[i].in, len) != cases[i].ok)
            fail_msg("case %zu: expected %d", i, cases[i].ok);
    }
}

/* A valid sequence cut at any point is refused, never read past len. */
static void test_valid_utf8_truncations(void **state)
{
    static const char seq[] = "x\xf0\x9f\x98\x80";
    size_t len;

    for (len = 2; len < sizeof seq - 1; len++)
        assert_false(valid_utf8(seq, len));
    assert_true(valid_utf8(seq, sizeof seq - 1));
    assert_true(valid_utf8(seq, 1));
}

static void test_valid_text(void **state)
{
    assert_int_equal(valid_text("hi", 2, 10), 0);
    assert_int_equal(valid_text("hi", 2, 2), 0);
    assert_int_equal(valid_text("hi!", 3, 2), CHAT_ERR_TOOBIG);
    assert_int_equal(valid_text("", 0, 10), CHAT_ERR_INVALID);
    assert_int_equal(valid_text(NULL, 0, 10), CHAT_ERR_INVALID);
    assert_int_equal(valid_text("\xc3", 1, 10), CHAT_ERR_INVALID);
    assert_int_equal(valid_text("a\0b", 3, 10), CHAT_ERR_INVALID);
    assert_int_equal(valid_text("caf\xc3\xa9", 5, 5), 0);
    assert_int_equal(valid_text("caf\xc3\xa9", 5, 4), CHAT_ERR_TOOBIG);
}

static void test_valid_cid(void **state)
{
    static const struct {
        const char *in;
        bool ok;
    } cases[] = {
        {"k3j2", true},
        {"!~", true},
        {"a", true},
        {"0123456789012345678901234567890123456789012345678901234567890123", true},
        {"01234567890123456789012345678901234567890123456789012345678901234", false},
        {"", false},
        {"a b", false},
        {"a\tb", false},
        {"caf\xc3\xa9", false},
        {"a\x7f", false},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (valid_cid(cases[i].in) != cases[i].ok)
            fail_msg("cid case %zu", i);
    assert_false(valid_cid(NULL));
}

static void test_valid_conv(void **state)
{
    static const struct {
        const char *in;
        int rc;
        bool room;
        const char *lname;
    } cases[] = {
        {"bob", 0, false, "bob"},
        {"Bob", 0, false, "bob"},
        {"#lobby", 0, true, "lobby"},
        {"#Lobby.2", 0, true, "lobby.2"},
        {"#", CHAT_ERR_INVALID, false, ""},
        {"##lobby", CHAT_ERR_INVALID, false, ""},
        {"", CHAT_ERR_INVALID, false, ""},
        {"bo b", CHAT_ERR_INVALID, false, ""},
        {"#_x", CHAT_ERR_INVALID, false, ""},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char lname[NAME_MAX_LEN + 1] = "junk";
        bool room = !cases[i].room;

        assert_int_equal(valid_conv(cases[i].in, &room, lname), cases[i].rc);
        assert_int_equal(room, cases[i].room);
        assert_string_equal(lname, cases[i].lname);
    }
    {
        char lname[NAME_MAX_LEN + 1];
        bool room;
        assert_int_equal(valid_conv(NULL, &room, lname), CHAT_ERR_INVALID);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_name_table),
        cmocka_unit_test(test_valid_utf8_table),
        cmocka_unit_test(test_valid_utf8_truncations),
        cmocka_unit_test(test_valid_text),
        cmocka_unit_test(test_valid_cid),
        cmocka_unit_test(test_valid_conv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for lib/keys.c: the whole schema as one table, then the
 * overflow and ordering rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "keys.h"

struct key_case {
    int (*one)(char out[KEY_MAX], const char *prefix, const char *arg);
    int (*bare)(char out[KEY_MAX], const char *prefix);
    const char *arg;
    const char *expected;
};

static void test_keys_schema_table(void **state)
{
    static const struct key_case cases[] = {
        {keys_user, NULL, "alice", "sb:user:alice"},
        {NULL, keys_users, NULL, "sb:users"},
        {keys_session, NULL, "abc123", "sb:sess:abc123"},
        {keys_user_sessions, NULL, "alice", "sb:usess:alice"},
        {keys_chan, NULL, "u:alice", "sb:ch:u:alice"},
        {keys_chan, NULL, "dm:alice:bob", "sb:ch:dm:alice:bob"},
        {keys_meta, NULL, "r:lobby", "sb:meta:r:lobby"},
        {keys_conv, NULL, "alice", "sb:conv:alice"},
        {keys_unread, NULL, "alice", "sb:unread:alice"},
        {keys_readmark, NULL, "alice", "sb:readmark:alice"},
        {keys_clear, NULL, "alice", "sb:clear:alice"},
        {keys_room, NULL, "lobby", "sb:room:lobby"},
        {NULL, keys_rooms, NULL, "sb:rooms"},
        {keys_members, NULL, "lobby", "sb:members:lobby"},
        {keys_user_rooms, NULL, "alice", "sb:urooms:alice"},
        {NULL, keys_presence, NULL, "sb:presence"},
        {keys_media, NULL, "deadbeef", "sb:media:deadbeef"},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[KEY_MAX];
        int n = cases[i].one ? cases[i].one(out, "sb:", cases[i].arg)
                             : cases[i].bare(out, "sb:");

        assert_string_equal(out, cases[i].expected);
        assert_int_equal(n, (int)strlen(cases[i].expected));
    }
}

static void test_keys_two_args(void **state)
{
    char out[KEY_MAX];

    assert_int_equal(keys_cid(out, "sb:", "alice", "k3j2"), 17);
    assert_string_equal(out, "sb:cid:alice:k3j2");
    assert_int_equal(keys_ratelimit(out, "sb:", "login", "1.2.3.4"), 19);
    assert_string_equal(out, "sb:rl:login:1.2.3.4");
}

static void test_keys_prefix(void **state)
{
    char out[KEY_MAX];

    assert_int_equal(keys_users(out, ""), 5);
    assert_string_equal(out, "users");
    assert_int_equal(keys_user(out, "test.1:", "bob"), 15);
    assert_string_equal(out, "test.1:user:bob");
}

static void test_keys_channels(void **state)
{
    char out[CHAN_MAX];

    assert_int_equal(keys_chan_inbox(out, "alice"), 7);
    assert_string_equal(out, "u:alice");
    assert_int_equal(keys_chan_room(out, "lobby"), 7);
    assert_string_equal(out, "r:lobby");
    assert_int_equal(keys_chan_dm(out, "alice", "bob"), 12);
    assert_string_equal(out, "dm:alice:bob");
    /* Either side writing first names the same list. */
    assert_int_equal(keys_chan_dm(out, "bob", "alice"), 12);
    assert_string_equal(out, "dm:alice:bob");
    assert_int_equal(keys_chan_dm(out, "al", "alice"), 11);
    assert_string_equal(out, "dm:al:alice");
    assert_int_equal(keys_chan_dm(out, "alice", "al"), 11);
    assert_string_equal(out, "dm:al:alice");
}

/* The longest legal ingredients fit; anything longer is refused whole. */
static void test_keys_overflow(void **state)
{
    const char *name32 = "abcdefghijklmnopqrstuvwxyz012345";
    const char *prefix32 = "p_______________________________";
    char big[KEY_MAX + 8];
    char out[KEY_MAX];
    char chan[CHAN_MAX];
    int n;

    n = keys_chan_dm(chan, name32, "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
    assert_int_equal(n, 3 + 32 + 1 + 32);
    n = keys_chan(out, prefix32, chan);
    assert_int_equal(n, 32 + 3 + 68);
    n = keys_cid(out, prefix32, name32, "0123456789012345678901234567890123456789012345678901234567890123");
    assert_true(n > 0 && n < KEY_MAX);

    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(keys_user(out, "sb:", big), -1);
    assert_string_equal(out, "");
    big[KEY_MAX - 1 - 8] = '\0'; /* "sb:user:" + this = KEY_MAX - 1: fits */
    assert_int_equal(keys_user(out, "sb:", big), KEY_MAX - 1);
    big[KEY_MAX - 1 - 8] = 'a';
    big[KEY_MAX - 8] = '\0'; /* one more: no room for the NUL */
    assert_int_equal(keys_user(out, "sb:", big), -1);

    memset(big, 'b', CHAN_MAX);
    big[CHAN_MAX] = '\0';
    assert_int_equal(keys_chan_inbox(chan, big), -1);
    assert_int_equal(keys_chan_dm(chan, big, "a"), -1);
    assert_int_equal(keys_user(out, NULL, "a"), -1);
    assert_int_equal(keys_user(out, "sb:", NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_schema_table),
        cmocka_unit_test(test_keys_two_args),
        cmocka_unit_test(test_keys_prefix),
        cmocka_unit_test(test_keys_channels),
        cmocka_unit_test(test_keys_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

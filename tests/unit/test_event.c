/* Unit tests for lib/event.c: members encoding (the Lua side relies on
 * its exact shape), parsing, and the WebSocket cursor splice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

static void test_event_members(void **state)
{
    cJSON *obj = cJSON_CreateObject();
    char *m;

    m = event_members(obj);
    assert_string_equal(m, "");
    free(m);

    cJSON_AddStringToObject(obj, "from", "a");
    m = event_members(obj);
    assert_string_equal(m, "\"from\":\"a\"");
    free(m);

    cJSON_AddStringToObject(obj, "text", "say \"hi\"\\\n\x01 caf\xc3\xa9");
    cJSON_AddNumberToObject(obj, "mid", 77);
    cJSON_AddTrueToObject(obj, "ok");
    m = event_members(obj);
    assert_string_equal(m, "\"from\":\"a\",\"text\":\"say \\\"hi\\\"\\\\\\n\\u0001 caf\xc3\xa9\","
                           "\"mid\":77,\"ok\":true");
    /* Spliced into the Lua shape it is one valid object. */
    {
        char buf[512];
        cJSON *ev;

        snprintf(buf, sizeof buf, "{\"type\":\"msg\",\"chan\":\"u:b\",\"id\":1,\"ts\":2,%s}", m);
        ev = event_parse(buf, strlen(buf));
        assert_non_null(ev);
        assert_string_equal(cJSON_GetObjectItem(ev, "text")->valuestring,
                            "say \"hi\"\\\n\x01 caf\xc3\xa9");
        cJSON_Delete(ev);
    }
    free(m);
    cJSON_Delete(obj);

    obj = cJSON_CreateArray();
    assert_null(event_members(obj));
    cJSON_Delete(obj);
    assert_null(event_members(NULL));
}

struct parse_case {
    const char *json;
    int ok;
    long long id;
    const char *chan, *type;
};

static void test_event_parse_table(void **state)
{
    static const struct parse_case cases[] = {
        {"{\"type\":\"msg\",\"chan\":\"r:lobby\",\"id\":231,\"ts\":1763769600123}", 1, 231,
         "r:lobby", "msg"},
        {"{\"type\":\"typing\",\"from\":\"alice\"}", 1, -1, NULL, "typing"},
        {"{}", 1, -1, NULL, NULL},
        {" {\"id\":0} \n", 1, 0, NULL, NULL},
        {"{\"id\":-3}", 1, -1, NULL, NULL},
        {"{\"id\":1.5}", 1, -1, NULL, NULL},
        {"{\"id\":\"7\",\"chan\":5,\"type\":null}", 1, -1, NULL, NULL},
        {"[1,2]", 0, 0, NULL, NULL},
        {"\"x\"", 0, 0, NULL, NULL},
        {"{\"id\":1", 0, 0, NULL, NULL},
        {"{\"id\":1}x", 0, 0, NULL, NULL},
        {"{\"id\":1}{}", 0, 0, NULL, NULL},
        {"", 0, 0, NULL, NULL},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *ev = event_parse(cases[i].json, strlen(cases[i].json));

        if (!cases[i].ok) {
            if (ev)
                fail_msg("case %zu parsed", i);
            continue;
        }
        if (!ev)
            fail_msg("case %zu refused", i);
        assert_int_equal(event_id(ev), cases[i].id);
        if (cases[i].chan)
            assert_string_equal(event_chan(ev), cases[i].chan);
        else
            assert_null(event_chan(ev));
        if (cases[i].type)
            assert_string_equal(event_type(ev), cases[i].type);
        else
            assert_null(event_type(ev));
        cJSON_Delete(ev);
    }
    /* len bounds the input: a valid prefix of a longer buffer parses. */
    {
        const char *buf = "{\"id\":5}garbage";
        cJSON *ev = event_parse(buf, 8);
        assert_non_null(ev);
        assert_int_equal(event_id(ev), 5);
        cJSON_Delete(ev);
    }
    assert_null(event_parse(NULL, 0));
}

static void test_event_with_cursor(void **state)
{
    static const struct {
        const char *json, *cursor, *expected;
    } cases[] = {
        {"{\"type\":\"msg\",\"id\":1}", "AbC-_9", "{\"type\":\"msg\",\"id\":1,\"cursor\":\"AbC-_9\"}"},
        {"{}", "x", "{\"cursor\":\"x\"}"},
        {"{ }", "x", "{ \"cursor\":\"x\"}"},
        {"{\"a\":1}", "", "{\"a\":1,\"cursor\":\"\"}"},
        {"{\"a\":1}", "q\"\\", "{\"a\":1,\"cursor\":\"q\\\"\\\\\"}"},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = event_with_cursor(cases[i].json, strlen(cases[i].json), cases[i].cursor);
        cJSON *ev;

        assert_non_null(out);
        assert_string_equal(out, cases[i].expected);
        ev = event_parse(out, strlen(out));
        assert_non_null(ev);
        assert_string_equal(cJSON_GetObjectItem(ev, "cursor")->valuestring, cases[i].cursor);
        cJSON_Delete(ev);
        free(out);
    }
    assert_null(event_with_cursor("{\"a\":1} ", 8, "x"));
    assert_null(event_with_cursor("[1]", 3, "x"));
    assert_null(event_with_cursor("", 0, "x"));
    /* Only len bytes are used. */
    {
        char *out = event_with_cursor("{\"a\":1}JUNK", 7, "c");
        assert_string_equal(out, "{\"a\":1,\"cursor\":\"c\"}");
        free(out);
    }
}

/* The pieces a transport writes make event_with_cursor's string. */
static void test_event_cursor_split(void **state)
{
    static const char *cases[] = { "{\"type\":\"msg\",\"id\":1}", "{}", "{ }", "{\"a\":{}}" };
    char buf[128];

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t body, len = strlen(cases[i]);
        const char *sep;
        char *want = event_with_cursor(cases[i], len, "Ab-_");

        assert_int_equal(event_cursor_split(cases[i], len, &body, &sep), 0);
        snprintf(buf, sizeof buf, "%.*s%sAb-_%s", (int)body, cases[i], sep, EVENT_CURSOR_CLOSE);
        assert_string_equal(buf, want);
        free(want);
    }
    {
        size_t body;
        const char *sep;
        assert_int_equal(event_cursor_split("[1]", 3, &body, &sep), -1);
        assert_int_equal(event_cursor_split("", 0, &body, &sep), -1);
        assert_int_equal(event_cursor_split(NULL, 0, &body, &sep), -1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_members),
        cmocka_unit_test(test_event_parse_table),
        cmocka_unit_test(test_event_with_cursor),
        cmocka_unit_test(test_event_cursor_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

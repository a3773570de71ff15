/* Unit tests for lib/params.c: form and JSON bodies into one object, and
 * the typed readers that refuse instead of clamping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "params.h"

static void test_params_url_decode_table(void **state)
{
    static const struct {
        const char *in;
        int rc;
        const char *out;
        size_t outlen;
    } cases[] = {
        {"", 0, "", 0},
        {"abc", 0, "abc", 3},
        {"a+b", 0, "a b", 3},
        {"a%20b", 0, "a b", 3},
        {"%2B%2b", 0, "++", 2},
        {"caf%C3%A9", 0, "caf\xc3\xa9", 5},
        {"100%25", 0, "100%", 4},
        {"%00", 0, "", 1}, /* decodes; the form layer refuses the NUL */
        {"%", CHAT_ERR_INVALID, NULL, 0},
        {"%4", CHAT_ERR_INVALID, NULL, 0},
        {"a%4", CHAT_ERR_INVALID, NULL, 0},
        {"%zz", CHAT_ERR_INVALID, NULL, 0},
        {"%g0", CHAT_ERR_INVALID, NULL, 0},
        {"%0g", CHAT_ERR_INVALID, NULL, 0},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[64];
        size_t len = strlen(cases[i].in);

        memcpy(buf, cases[i].in, len + 1);
        if (params_url_decode(buf, &len) != cases[i].rc)
            fail_msg("case %zu: wrong rc", i);
        if (cases[i].rc != 0)
            continue;
        assert_int_equal(len, cases[i].outlen);
        assert_memory_equal(buf, cases[i].out, len);
        assert_int_equal(buf[len], '\0');
    }
}

static void test_params_form(void **state)
{
    static const char body[] = "to=bob&text=hello+world%21&cid=k3j2&empty=&flag&&to=eve&caf%C3%A9=%E2%82%AC";
    cJSON *obj = cJSON_CreateObject();

    assert_int_equal(params_parse_form(obj, body, sizeof body - 1), 0);
    assert_string_equal(params_str(obj, "to"), "bob"); /* first value kept */
    assert_string_equal(params_str(obj, "text"), "hello world!");
    assert_string_equal(params_str(obj, "cid"), "k3j2");
    assert_string_equal(params_str(obj, "empty"), "");
    assert_string_equal(params_str(obj, "flag"), "");
    assert_string_equal(params_str(obj, "caf\xc3\xa9"), "\xe2\x82\xac");
    assert_int_equal(cJSON_GetArraySize(obj), 6);
    assert_true(params_has(obj, "flag"));
    assert_false(params_has(obj, "nope"));
    assert_null(params_str(obj, "nope"));
    assert_null(params_str(obj, "TO")); /* names are case-sensitive */

    /* len bounds the input. */
    assert_int_equal(params_parse_form(obj, "room=lobby&x=1", 10), 0);
    assert_string_equal(params_str(obj, "room"), "lobby");
    assert_false(params_has(obj, "x"));
    assert_int_equal(params_parse_form(obj, NULL, 0), 0);
    cJSON_Delete(obj);
}

static void test_params_form_invalid(void **state)
{
    static const char *const bodies[] = {
        "a=%zz",
        "a=%4",
        "a=1&b=%",
        "a=x%00y",       /* NUL after decoding */
        "a%00=1",
        "a=%C3",         /* truncated UTF-8 */
        "a=%C0%80",      /* overlong */
        "a=%ED%A0%80",   /* surrogate */
        "a=%F4%90%80%80",/* past U+10FFFF */
        "%FF=1",
    };
    size_t i;

    for (i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        cJSON *obj = cJSON_CreateObject();
        if (params_parse_form(obj, bodies[i], strlen(bodies[i])) != CHAT_ERR_INVALID)
            fail_msg("form case %zu accepted", i);
        cJSON_Delete(obj);
    }
    /* A raw invalid byte, not escaped. */
    {
        cJSON *obj = cJSON_CreateObject();
        assert_int_equal(params_parse_form(obj, "a=\xff", 3), CHAT_ERR_INVALID);
        assert_int_equal(params_parse_form(obj, "a=b\0c", 5), CHAT_ERR_INVALID);
        cJSON_Delete(obj);
    }
}

static void test_params_form_too_many(void **state)
{
    size_t cap = 300 * 12, len = 0;
    char *body = malloc(cap);
    cJSON *obj = cJSON_CreateObject();
    int i;

    assert_non_null(body);
    for (i = 0; i < 300; i++)
        len += (size_t)snprintf(body + len, cap - len, "k%d=1&", i);
    assert_int_equal(params_parse_form(obj, body, len), CHAT_ERR_INVALID);
    cJSON_Delete(obj);
    /* Repeats of one key are not "many". */
    obj = cJSON_CreateObject();
    len = 0;
    for (i = 0; i < 300; i++)
        len += (size_t)snprintf(body + len, cap - len, "k=%d&", i);
    assert_int_equal(params_parse_form(obj, body, len), 0);
    assert_string_equal(params_str(obj, "k"), "0");
    cJSON_Delete(obj);
    free(body);
}

static void test_params_json(void **state)
{
    static const char body[] = " {\"to\":\"bob\",\"text\":\"caf\\u00e9 \xe2\x82\xac\",\"limit\":20,"
                               "\"att\":{\"url\":\"/m/x\"},\"list\":[1,\"a\"]} ";
    cJSON *obj = cJSON_CreateObject();

    /* The query string said to=eve; the body replaces it. */
    assert_int_equal(params_parse_form(obj, "to=eve&conv=x", 13), 0);
    assert_int_equal(params_parse_json(obj, body, sizeof body - 1), 0);
    assert_string_equal(params_str(obj, "to"), "bob");
    assert_string_equal(params_str(obj, "conv"), "x");
    assert_string_equal(params_str(obj, "text"), "caf\xc3\xa9 \xe2\x82\xac");
    assert_null(params_str(obj, "limit"));
    assert_true(params_has(obj, "att"));
    assert_int_equal(cJSON_GetArraySize(obj), 6);
    {
        char *printed = cJSON_PrintUnformatted(obj);
        assert_string_equal(printed, "{\"to\":\"bob\",\"conv\":\"x\",\"text\":\"caf\xc3\xa9 \xe2\x82\xac\","
                                     "\"limit\":20,\"att\":{\"url\":\"/m/x\"},\"list\":[1,\"a\"]}");
        free(printed);
    }
    assert_int_equal(params_parse_json(obj, "{}", 2), 0);
    assert_int_equal(cJSON_GetArraySize(obj), 6);
    cJSON_Delete(obj);
}

static void test_params_json_invalid(void **state)
{
    static const char *const bodies[] = {
        "",
        "[1,2]",
        "\"str\"",
        "42",
        "null",
        "{\"a\":1",
        "{\"a\":1}x",
        "{\"a\":1}{}",
        "{a:1}",
        "{\"a\":\"\xff\"}",             /* invalid UTF-8 in a value */
        "{\"\xc0\x80\":1}",             /* ... in a key */
        "{\"a\":[\"ok\",\"\xed\xa0\x80\"]}", /* ... nested */
        "{\"a\":\"x\\u0000y\"}",        /* would be cut at the NUL */
        "{\"a\":\"\\ud800\"}",          /* lone surrogate escape */
        "\x01{\"a\":1}",                 /* control bytes are not whitespace */
        "{\x1f\"a\"\x01:\x02\"b\"}",
        "{\"a\":\"x\ty\x07\"}",          /* raw control character in a string */
    };
    size_t i;

    for (i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        cJSON *obj = cJSON_CreateObject();
        if (params_parse_json(obj, bodies[i], strlen(bodies[i])) != CHAT_ERR_INVALID)
            fail_msg("json case %zu accepted", i);
        cJSON_Delete(obj);
    }
    /* An escaped backslash before "u0000" is not a NUL escape. */
    {
        cJSON *obj = cJSON_CreateObject();
        assert_int_equal(params_parse_json(obj, "{\"a\":\"\\\\u0000\"}", 15), 0);
        assert_string_equal(params_str(obj, "a"), "\\u0000");
        cJSON_Delete(obj);
    }
}

struct int_case {
    const char *json;
    long long min, max, def;
    int rc;
    long long out;
};

static void test_params_int_table(void **state)
{
    static const struct int_case cases[] = {
        {"{}", 1, 200, 50, 0, 50},
        {"{\"n\":20}", 1, 200, 50, 0, 20},
        {"{\"n\":\"20\"}", 1, 200, 50, 0, 20},
        {"{\"n\":\"-5\"}", -10, 10, 0, 0, -5},
        {"{\"n\":1}", 1, 200, 50, 0, 1},
        {"{\"n\":200}", 1, 200, 50, 0, 200},
        {"{\"n\":0}", 1, 200, 50, CHAT_ERR_INVALID, 50},
        {"{\"n\":201}", 1, 200, 50, CHAT_ERR_INVALID, 50},
        {"{\"n\":\"201\"}", 1, 200, 50, CHAT_ERR_INVALID, 50},
        {"{\"n\":1.5}", 1, 200, 50, CHAT_ERR_INVALID, 50},
        {"{\"n\":1e300}", 0, 9223372036854775807LL, 0, CHAT_ERR_INVALID, 0},
        {"{\"n\":\"\"}", 1, 200, 50, CHAT_ERR_INVALID, 50},
        {"{\"n\":\" 5\"}", 1, 200, 50, CHAT_ERR_INVALID, 50},
        {"{\"n\":\"5 \"}", 1, 200, 50, CHAT_ERR_INVALID, 50},
        {"{\"n\":\"+5\"}", 1, 200, 50, CHAT_ERR_INVALID, 50},
        {"{\"n\":\"0x10\"}", 0, 200, 50, CHAT_ERR_INVALID, 50},
        {"{\"n\":\"1e2\"}", 0, 200, 50, CHAT_ERR_INVALID, 50},
        {"{\"n\":\"-\"}", -10, 200, 50, CHAT_ERR_INVALID, 50},
        {"{\"n\":\"abc\"}", 1, 200, 50, CHAT_ERR_INVALID, 50},
        {"{\"n\":\"99999999999999999999\"}", 0, 9223372036854775807LL, 0, CHAT_ERR_INVALID, 0},
        {"{\"n\":\"9223372036854775807\"}", 0, 9223372036854775807LL, 0, 0,
         9223372036854775807LL},
        {"{\"n\":true}", 0, 200, 50, CHAT_ERR_INVALID, 50},
        {"{\"n\":null}", 0, 200, 50, CHAT_ERR_INVALID, 50},
        {"{\"n\":[1]}", 0, 200, 50, CHAT_ERR_INVALID, 50},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *obj = cJSON_CreateObject();
        long long out = -12345;
        int rc;

        assert_int_equal(params_parse_json(obj, cases[i].json, strlen(cases[i].json)), 0);
        rc = params_int(obj, "n", cases[i].min, cases[i].max, cases[i].def, &out);
        if (rc != cases[i].rc)
            fail_msg("int case %zu: rc %d", i, rc);
        if (out != cases[i].out)
            fail_msg("int case %zu: out %lld", i, out);
        cJSON_Delete(obj);
    }
    /* From a form, as chat-api receives ?limit=... */
    {
        cJSON *obj = cJSON_CreateObject();
        long long out;
        assert_int_equal(params_parse_form(obj, "limit=10&before=x", 17), 0);
        assert_int_equal(params_int(obj, "limit", 1, 200, 50, &out), 0);
        assert_int_equal(out, 10);
        assert_int_equal(params_int(obj, "before", 0, 1000, 0, &out), CHAT_ERR_INVALID);
        cJSON_Delete(obj);
    }
}

static void test_params_bool_table(void **state)
{
    static const struct {
        const char *json;
        int def, rc, out;
    } cases[] = {
        {"{}", 1, 0, 1},
        {"{}", 0, 0, 0},
        {"{\"b\":true}", 0, 0, 1},
        {"{\"b\":false}", 1, 0, 0},
        {"{\"b\":1}", 0, 0, 1},
        {"{\"b\":0}", 1, 0, 0},
        {"{\"b\":\"1\"}", 0, 0, 1},
        {"{\"b\":\"0\"}", 1, 0, 0},
        {"{\"b\":\"true\"}", 0, 0, 1},
        {"{\"b\":\"false\"}", 1, 0, 0},
        {"{\"b\":2}", 0, CHAT_ERR_INVALID, 0},
        {"{\"b\":\"yes\"}", 0, CHAT_ERR_INVALID, 0},
        {"{\"b\":\"\"}", 0, CHAT_ERR_INVALID, 0},
        {"{\"b\":null}", 0, CHAT_ERR_INVALID, 0},
        {"{\"b\":{}}", 0, CHAT_ERR_INVALID, 0},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *obj = cJSON_CreateObject();
        int out = -1, rc;

        assert_int_equal(params_parse_json(obj, cases[i].json, strlen(cases[i].json)), 0);
        rc = params_bool(obj, "b", cases[i].def, &out);
        if (rc != cases[i].rc || out != cases[i].out)
            fail_msg("bool case %zu: rc %d out %d", i, rc, out);
        cJSON_Delete(obj);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_url_decode_table),
        cmocka_unit_test(test_params_form),
        cmocka_unit_test(test_params_form_invalid),
        cmocka_unit_test(test_params_form_too_many),
        cmocka_unit_test(test_params_json),
        cmocka_unit_test(test_params_json_invalid),
        cmocka_unit_test(test_params_int_table),
        cmocka_unit_test(test_params_bool_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

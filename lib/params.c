/* params — query strings, form bodies and JSON bodies become one cJSON
 * object, so a handler reads "to" the same way whatever the client sent.
 * Strings that reach a handler are valid UTF-8 without NUL bytes. */
#include "params.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "valid.h"
#include "xmalloc.h"

/* No handler takes more than a dozen parameters; the cap keeps the
 * duplicate lookups (linear in cJSON) from being a quadratic DoS. */
#define PARAMS_MAX_MEMBERS 256

static void params_oom(void) __attribute__((noreturn));

static void params_oom(void)
{
    fputs("out of memory\n", stderr);
    abort();
}

static int params_hex(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The output is never longer than the input, so s needs no more room
 * than its own len + 1 bytes. */
int params_url_decode(char *s, size_t *len)
{
    size_t i, o = 0, n = *len;

    for (i = 0; i < n; i++) {
        if (s[i] == '+') {
            s[o++] = ' ';
        } else if (s[i] == '%') {
            int hi, lo;

            if (n - i < 3)
                return CHAT_ERR_INVALID;
            hi = params_hex((unsigned char)s[i + 1]);
            lo = params_hex((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return CHAT_ERR_INVALID;
            s[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            s[o++] = s[i];
        }
    }
    s[o] = '\0';
    *len = o;
    return 0;
}

/* Copies data[0..len) and decodes it into a new C string; NULL if the
 * escape is bad or the result holds a NUL or invalid UTF-8. */
static char *params_decode_part(const char *data, size_t len)
{
    char *s = xmalloc(len + 1);

    memcpy(s, data, len);
    s[len] = '\0';
    if (params_url_decode(s, &len) < 0 || !valid_utf8(s, len)) {
        free(s);
        return NULL;
    }
    return s;
}

int params_parse_form(cJSON *obj, const char *data, size_t len)
{
    const char *p = data, *end = data + len;
    char *key = NULL, *val = NULL;
    int rc = CHAT_ERR_INVALID;

    if (!obj || (!data && len))
        goto out;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        const char *kend = eq ? eq : stop;

        /* "a=1&&b=2" and a trailing '&' are harmless. */
        if (stop == p)
            goto next;
        key = params_decode_part(p, (size_t)(kend - p));
        val = eq ? params_decode_part(eq + 1, (size_t)(stop - eq - 1)) : xstrdup("");
        if (!key || !val)
            goto out;
        if (!cJSON_GetObjectItemCaseSensitive(obj, key)) {
            if (cJSON_GetArraySize(obj) >= PARAMS_MAX_MEMBERS)
                goto out;
            if (!cJSON_AddStringToObject(obj, key, val))
                params_oom();
        }
        free(key);
        free(val);
        key = val = NULL;
    next:
        p = amp ? amp + 1 : end;
    }
    rc = 0;
out:
    free(key);
    free(val);
    return rc;
}

/* cJSON turns \u0000 into a NUL that silently cuts the string ("bob\u0000x"
 * would read as "bob"). Outside strings a backslash is not valid JSON, so
 * looking at escapes needs no parser. */
static bool params_has_nul_escape(const char *data, size_t len)
{
    size_t i;

    for (i = 0; i + 1 < len; i++) {
        if (data[i] != '\\')
            continue;
        if (data[i + 1] == 'u' && len - i >= 6 && memcmp(data + i + 2, "0000", 4) == 0)
            return true;
        i++; /* skip the escaped character */
    }
    return false;
}

static bool params_utf8_tree(const cJSON *item)
{
    const cJSON *c;

    if (item->string && !valid_utf8(item->string, strlen(item->string)))
        return false;
    if (cJSON_IsString(item) && !valid_utf8(item->valuestring, strlen(item->valuestring)))
        return false;
    for (c = item->child; c; c = c->next)
        if (!params_utf8_tree(c))
            return false;
    return true;
}

/* JSON allows only space, tab, CR and LF as raw bytes below 0x20 (control
 * characters inside strings must be escaped); cJSON would skip any of them
 * as whitespace. */
static int params_has_raw_control(const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)data[i];
        if (c < 0x20 && c != ' ' && c != '\t' && c != '\r' && c != '\n')
            return 1;
    }
    return 0;
}

int params_parse_json(cJSON *obj, const char *data, size_t len)
{
    const char *end = NULL;
    cJSON *root = NULL;
    int rc = CHAT_ERR_INVALID;

    if (!obj || !data || len == 0 || params_has_nul_escape(data, len) ||
        params_has_raw_control(data, len))
        goto out;
    root = cJSON_ParseWithLengthOpts(data, len, &end, 0);
    if (!cJSON_IsObject(root) || !end)
        goto out;
    while ((size_t)(end - data) < len &&
           (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
        end++;
    if ((size_t)(end - data) != len || !params_utf8_tree(root))
        goto out;
    if (cJSON_GetArraySize(root) > PARAMS_MAX_MEMBERS)
        goto out;

    while (root->child) {
        cJSON *item = cJSON_DetachItemViaPointer(root, root->child);
        cJSON *old = cJSON_GetObjectItemCaseSensitive(obj, item->string);

        /* Via pointer: the item keeps its own key, which replace-by-name
         * would free before copying from it. */
        if (old) {
            cJSON_ReplaceItemViaPointer(obj, old, item);
        } else {
            if (cJSON_GetArraySize(obj) >= PARAMS_MAX_MEMBERS) {
                cJSON_Delete(item);
                goto out;
            }
            cJSON_AddItemToArray(obj, item);
        }
    }
    rc = 0;
out:
    cJSON_Delete(root);
    return rc;
}

const char *params_str(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int params_has(const cJSON *obj, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(obj, name) != NULL;
}

/* Optional '-', then decimal digits only: no blanks, '+', hex or exponent. */
static int params_parse_ll(const char *s, long long *out)
{
    const char *d = s[0] == '-' ? s + 1 : s;
    char *end;
    long long v;

    if (*d < '0' || *d > '9')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (*end || errno == ERANGE)
        return -1;
    *out = v;
    return 0;
}

int params_int(const cJSON *obj, const char *name, long long min, long long max,
               long long def, long long *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    long long n;

    *out = def;
    if (!v)
        return 0;
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;

        /* Beyond 2^53 a double no longer names one integer; inside it,
         * the cast round trip tells an integer from a fraction (and
         * keeps libm off the link line). */
        if (!(d >= -9007199254740992.0 && d <= 9007199254740992.0) ||
            (double)(long long)d != d)
            return CHAT_ERR_INVALID;
        n = (long long)d;
    } else if (cJSON_IsString(v)) {
        if (params_parse_ll(v->valuestring, &n) < 0)
            return CHAT_ERR_INVALID;
    } else {
        return CHAT_ERR_INVALID;
    }
    if (n < min || n > max)
        return CHAT_ERR_INVALID;
    *out = n;
    return 0;
}

int params_bool(const cJSON *obj, const char *name, int def, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

    *out = def;
    if (!v)
        return 0;
    if (cJSON_IsBool(v)) {
        *out = cJSON_IsTrue(v) ? 1 : 0;
        return 0;
    }
    if (cJSON_IsNumber(v) && (v->valuedouble == 0 || v->valuedouble == 1)) {
        *out = v->valuedouble == 1;
        return 0;
    }
    if (cJSON_IsString(v)) {
        if (strcmp(v->valuestring, "1") == 0 || strcmp(v->valuestring, "true") == 0) {
            *out = 1;
            return 0;
        }
        if (strcmp(v->valuestring, "0") == 0 || strcmp(v->valuestring, "false") == 0) {
            *out = 0;
            return 0;
        }
    }
    return CHAT_ERR_INVALID;
}

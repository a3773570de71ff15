/* event — the JSON shape every transport delivers. Stored events are
 * built by Lua concatenation around event_members(), so escaping is done
 * by cJSON here, not by hand in a script. */
#include "event.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

char *event_members(const cJSON *obj)
{
    char *json, *out;
    size_t len;

    if (!cJSON_IsObject(obj))
        return NULL;
    json = cJSON_PrintUnformatted(obj);
    /* cJSON only fails to print when malloc fails: same policy as xmalloc. */
    if (!json) {
        fputs("out of memory\n", stderr);
        abort();
    }
    len = strlen(json);
    if (len < 2) {
        free(json);
        return xstrdup("");
    }
    out = xstrndup(json + 1, len - 2);
    free(json);
    return out;
}

cJSON *event_parse(const char *json, size_t len)
{
    const char *end = NULL;
    cJSON *ev;

    if (!json)
        return NULL;
    ev = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!ev)
        return NULL;
    /* A stored event is one object and nothing after it. */
    while (end && (size_t)(end - json) < len &&
           (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t'))
        end++;
    if (!cJSON_IsObject(ev) || !end || (size_t)(end - json) != len) {
        cJSON_Delete(ev);
        return NULL;
    }
    return ev;
}

long long event_id(const cJSON *ev)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(ev, "id");
    double v;

    if (!cJSON_IsNumber(id))
        return -1;
    v = id->valuedouble;
    /* Ids are non-negative integers well inside a double's 2^53. */
    if (!(v >= 0 && v <= 9007199254740992.0) || (double)(long long)v != v)
        return -1;
    return (long long)v;
}

const char *event_chan(const cJSON *ev)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev, "chan");
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *event_type(const cJSON *ev)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev, "type");
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* True if s can sit between JSON quotes as is (cursor_encode output
 * always can; anything else goes through cJSON's escaper). */
static int event_plain(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == '"' || *s == '\\' || (unsigned char)*s >= 0x7f)
            return 0;
    return 1;
}

int event_cursor_split(const char *json, size_t len, size_t *body, const char **sep)
{
    size_t k;

    if (!json || len == 0 || json[len - 1] != '}')
        return -1;
    *body = len - 1;
    /* {} needs no comma before the new member. */
    k = *body;
    while (k > 0 && (json[k - 1] == ' ' || json[k - 1] == '\n' || json[k - 1] == '\r' ||
                     json[k - 1] == '\t'))
        k--;
    *sep = k > 0 && json[k - 1] == '{' ? EVENT_CURSOR_OPEN + 1 : EVENT_CURSOR_OPEN;
    return 0;
}

char *event_with_cursor(const char *json, size_t len, const char *cursor)
{
    char *quoted = NULL, *out = NULL;
    const char *q, *sep;
    size_t body, k, qlen, seplen, total;

    if (event_cursor_split(json, len, &body, &sep) < 0)
        return NULL;
    if (!cursor)
        cursor = "";

    if (event_plain(cursor)) {
        q = cursor;
        qlen = strlen(cursor);
    } else {
        cJSON *s = cJSON_CreateString(cursor);
        char *p = s ? cJSON_PrintUnformatted(s) : NULL;

        cJSON_Delete(s);
        if (!p) {
            fputs("out of memory\n", stderr);
            abort();
        }
        /* Drop cJSON's quotes: the format below adds its own. */
        p[strlen(p) - 1] = '\0';
        quoted = p;
        q = p + 1;
        qlen = strlen(q);
    }

    /* body + sep + q + "} + NUL */
    seplen = strlen(sep);
    if (qlen > SIZE_MAX - 16 || body > SIZE_MAX - 16 - qlen)
        goto out;
    total = body + seplen + qlen + 3;
    out = xmalloc(total);
    memcpy(out, json, body);
    k = body;
    memcpy(out + k, sep, seplen);
    k += seplen;
    memcpy(out + k, q, qlen);
    k += qlen;
    memcpy(out + k, EVENT_CURSOR_CLOSE, 3);
out:
    free(quoted);
    return out;
}

/* cursor — per-channel resume positions, kept sorted by channel so a
 * lookup is a binary search and an encoded cursor is canonical (the same
 * positions always give the same string). */
#include "cursor.h"

#include <limits.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "xmalloc.h"

void cursor_init(struct cursor *c)
{
    memset(c, 0, sizeof *c);
}

void cursor_free(struct cursor *c)
{
    if (!c)
        return;
    free(c->pos);
    memset(c, 0, sizeof *c);
}

/* Bytes that would break the line format, or any control byte. */
static bool cursor_token_ok(const char *s, size_t len, size_t max)
{
    size_t i;

    if (len >= max)
        return false;
    for (i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] == 0x7f)
            return false;
    return true;
}

/* Index of chan, or -(insertion point) - 1. */
static int cursor_search(const struct cursor *c, const char *chan)
{
    int lo = 0, hi = c->n - 1;

    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int cmp = strcmp(c->pos[mid].chan, chan);

        if (cmp == 0)
            return mid;
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -lo - 1;
}

static void cursor_reserve(struct cursor *c, int want)
{
    int cap;

    if (want <= c->cap)
        return;
    cap = c->cap ? c->cap : 8;
    while (cap < want) {
        if (cap > INT_MAX / 2) {
            cap = want;
            break;
        }
        cap *= 2;
    }
    if ((size_t)cap > SIZE_MAX / sizeof *c->pos)
        abort();
    c->pos = xrealloc(c->pos, (size_t)cap * sizeof *c->pos);
    c->cap = cap;
}

int cursor_set(struct cursor *c, const char *chan, const char *epoch, long long id)
{
    struct cursor_pos *p;
    int i;

    if (!chan || !*chan || !cursor_token_ok(chan, strlen(chan), CHAN_MAX))
        return CHAT_ERR_INVALID;
    if (!epoch)
        epoch = "";
    if (!cursor_token_ok(epoch, strlen(epoch), EPOCH_MAX) || id < 0)
        return CHAT_ERR_INVALID;

    i = cursor_search(c, chan);
    if (i < 0) {
        if (c->n == INT_MAX)
            return CHAT_ERR_INVALID;
        i = -i - 1;
        cursor_reserve(c, c->n + 1);
        memmove(&c->pos[i + 1], &c->pos[i], (size_t)(c->n - i) * sizeof *c->pos);
        c->n++;
        snprintf(c->pos[i].chan, sizeof c->pos[i].chan, "%s", chan);
    }
    p = &c->pos[i];
    snprintf(p->epoch, sizeof p->epoch, "%s", epoch);
    p->id = id;
    return 0;
}

const struct cursor_pos *cursor_find(const struct cursor *c, const char *chan)
{
    int i;

    if (!c || !chan || c->n == 0)
        return NULL;
    i = cursor_search(c, chan);
    return i >= 0 ? &c->pos[i] : NULL;
}

/* chan and epoch were checked by cursor_set/cursor_decode (or come from
 * the hub's own channel table), so they fit: CURSOR_LINE_MAX is chan,
 * space, epoch, space, 19 digits, newline. No snprintf: this runs once
 * per delivered event and subscriber. */
size_t cursor_line(char *out, const char *chan, const char *epoch, long long id)
{
    char digits[24];
    size_t n = 0, cl = strnlen(chan, CHAN_MAX - 1), el = strnlen(epoch, EPOCH_MAX - 1);
    unsigned long long v = id < 0 ? 0 : (unsigned long long)id;

    memcpy(out, chan, cl);
    out[cl] = ' ';
    memcpy(out + cl + 1, epoch, el);
    out[cl + 1 + el] = ' ';
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[cl + el + 2 + i] = digits[n - 1 - i];
    out[cl + el + 2 + n] = '\n';
    return cl + el + 3 + n;
}

size_t cursor_encoded_len(size_t textlen)
{
    return sodium_base64_ENCODED_LEN(textlen, sodium_base64_VARIANT_URLSAFE_NO_PADDING) - 1;
}

size_t cursor_encode_text(char *out, const char *text, size_t len)
{
    size_t outlen = cursor_encoded_len(len) + 1;

    sodium_bin2base64(out, outlen, (const unsigned char *)text, len,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return outlen - 1;
}

char *cursor_encode(const struct cursor *c)
{
    char *text, *out;
    size_t len = 0;
    int i;

    if ((size_t)c->n > SIZE_MAX / CURSOR_LINE_MAX - 1)
        abort();
    text = xmalloc((size_t)c->n * CURSOR_LINE_MAX + 1);
    for (i = 0; i < c->n; i++)
        len += cursor_line(text + len, c->pos[i].chan, c->pos[i].epoch, c->pos[i].id);
    out = xmalloc(cursor_encoded_len(len) + 1);
    cursor_encode_text(out, text, len);
    free(text);
    return out;
}

/* Decimal, no sign, fits in long long. */
static int cursor_parse_id(const char *s, size_t len, long long *out)
{
    long long v = 0;
    size_t i;

    if (len == 0)
        return -1;
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        if (v > (LLONG_MAX - (s[i] - '0')) / 10)
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int cursor_cmp(const void *a, const void *b)
{
    return strcmp(((const struct cursor_pos *)a)->chan, ((const struct cursor_pos *)b)->chan);
}

int cursor_decode(struct cursor *c, const char *s)
{
    unsigned char *bin = NULL;
    size_t slen, binlen = 0, off = 0;
    int rc = CHAT_ERR_INVALID;
    int i;

    c->n = 0;
    if (!s)
        goto out;
    slen = strnlen(s, CURSOR_MAX_LEN + 1);
    if (slen > CURSOR_MAX_LEN)
        goto out;
    bin = xmalloc(slen / 4 * 3 + 3);
    /* No ignore set and no end pointer: any stray byte is an error. */
    if (sodium_base642bin(bin, slen / 4 * 3 + 3, s, slen, NULL, &binlen, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        goto out;

    /* Collect in input order, then sort once: duplicates become
     * neighbours and a hostile cursor costs n log n, not n^2. */
    while (off < binlen) {
        const char *line = (const char *)bin + off;
        const char *nl = memchr(line, '\n', binlen - off);
        const char *sp1, *sp2;
        struct cursor_pos *p;
        size_t chanlen, epochlen;

        if (!nl)
            goto out;
        sp1 = memchr(line, ' ', (size_t)(nl - line));
        if (!sp1)
            goto out;
        sp2 = memchr(sp1 + 1, ' ', (size_t)(nl - sp1 - 1));
        if (!sp2)
            goto out;
        chanlen = (size_t)(sp1 - line);
        epochlen = (size_t)(sp2 - sp1 - 1);
        if (chanlen == 0 || !cursor_token_ok(line, chanlen, CHAN_MAX) ||
            !cursor_token_ok(sp1 + 1, epochlen, EPOCH_MAX))
            goto out;
        if (c->n >= CURSOR_MAX_CHANS)
            goto out;
        cursor_reserve(c, c->n + 1);
        p = &c->pos[c->n];
        if (cursor_parse_id(sp2 + 1, (size_t)(nl - sp2 - 1), &p->id) < 0)
            goto out;
        memcpy(p->chan, line, chanlen);
        p->chan[chanlen] = '\0';
        memcpy(p->epoch, sp1 + 1, epochlen);
        p->epoch[epochlen] = '\0';
        c->n++;
        off = (size_t)(nl - (const char *)bin) + 1;
    }
    if (c->n > 1)
        qsort(c->pos, (size_t)c->n, sizeof *c->pos, cursor_cmp);
    for (i = 1; i < c->n; i++)
        if (strcmp(c->pos[i - 1].chan, c->pos[i].chan) == 0)
            goto out;
    rc = 0;
out:
    if (rc != 0)
        c->n = 0;
    free(bin);
    return rc;
}

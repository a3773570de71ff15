/* valid — the input rules of PROTOCOL.md, as pure functions. */
#include "valid.h"

#include <string.h>

#include "err.h"

static bool valid_name_char(unsigned char c, bool first)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return true;
    return !first && (c == '_' || c == '.' || c == '-');
}

bool valid_name(const char *s)
{
    size_t i;

    if (!s || !*s)
        return false;
    for (i = 0; s[i]; i++) {
        if (i >= NAME_MAX_LEN || !valid_name_char((unsigned char)s[i], i == 0))
            return false;
    }
    return true;
}

int valid_name_lower(char out[NAME_MAX_LEN + 1], const char *s)
{
    size_t i;

    out[0] = '\0';
    if (!valid_name(s))
        return CHAT_ERR_INVALID;
    /* ASCII only by construction, so no locale-dependent tolower(). */
    for (i = 0; s[i]; i++)
        out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
    out[i] = '\0';
    return 0;
}

bool valid_utf8(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    if (!s)
        return len == 0;
    while (i < len) {
        unsigned char c = p[i];
        unsigned char lo = 0x80, hi = 0xBF;
        size_t need, k;

        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        /* RFC 3629 table 4: the second byte's range rules out overlongs
         * (E0, F0), surrogates (ED) and code points past U+10FFFF (F4). */
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        } else {
            return false;
        }
        if (len - i - 1 < need)
            return false;
        if (p[i + 1] < lo || p[i + 1] > hi)
            return false;
        for (k = 2; k <= need; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
        i += need + 1;
    }
    return true;
}

int valid_text(const char *s, size_t len, size_t max)
{
    if (!s || len == 0)
        return CHAT_ERR_INVALID;
    /* Size first: no point scanning megabytes we will refuse anyway. */
    if (len > max)
        return CHAT_ERR_TOOBIG;
    return valid_utf8(s, len) ? 0 : CHAT_ERR_INVALID;
}

bool valid_cid(const char *s)
{
    size_t i;

    if (!s || !*s)
        return false;
    for (i = 0; s[i]; i++)
        if (i >= CID_MAX_LEN || (unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

int valid_conv(const char *conv, bool *is_room, char lname[NAME_MAX_LEN + 1])
{
    bool room;
    int rc;

    *is_room = false;
    lname[0] = '\0';
    if (!conv)
        return CHAT_ERR_INVALID;
    room = conv[0] == '#';
    rc = valid_name_lower(lname, room ? conv + 1 : conv);
    if (rc == 0)
        *is_room = room;
    return rc;
}

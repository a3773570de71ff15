#include "handshake.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <string.h>
#include <strings.h>

#define HANDSHAKE_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

size_t handshake_head_len(const char *buf, size_t len)
{
    for (size_t i = 3; i < len; i++)
        if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r')
            return i + 1;
    return 0;
}

static char *handshake_trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        *--e = '\0';
    return s;
}

/* Whether a comma-separated header value holds token (any case). */
static int handshake_has_token(const char *value, const char *token)
{
    size_t n = strlen(token);

    for (const char *p = value; *p;) {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, ",");
        size_t end = len;
        while (end > 0 && (p[end - 1] == ' ' || p[end - 1] == '\t'))
            end--;
        if (end == n && strncasecmp(p, token, n) == 0)
            return 1;
        p += len;
    }
    return 0;
}

/* A key is the base64 of 16 bytes: 24 characters, the last two "==". */
static int handshake_key_ok(const char *key)
{
    unsigned char raw[20];
    int n;

    if (strlen(key) != 24 || key[22] != '=' || key[23] != '=')
        return 0;
    for (int i = 0; i < 22; i++) {
        char c = key[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/'))
            return 0;
    }
    n = EVP_DecodeBlock(raw, (const unsigned char *)key, 24);
    return n == 18;   /* 16 bytes + the two padding bytes DecodeBlock counts */
}

int handshake_parse(char *buf, size_t len, struct handshake *hs, const char **why)
{
    char *line, *next, *end = buf + len;
    const char *upgrade = NULL, *connection = NULL, *version = NULL;
    char *method, *target, *proto, *q;
    int first = 1;

    memset(hs, 0, sizeof(*hs));
    *why = "malformed request";
    if (len < 4 || memchr(buf, '\0', len) || memcmp(buf + len - 4, "\r\n\r\n", 4) != 0)
        return 400;
    end[-1] = '\0';   /* the last '\n' */
    for (line = buf; line < end && *line; line = next) {
        char *eol = strstr(line, "\r\n");
        if (!eol)
            break;
        *eol = '\0';
        next = eol + 2;
        if (first) {
            first = 0;
            method = line;
            if (!(target = strchr(method, ' ')))
                return 400;
            *target++ = '\0';
            if (!(proto = strchr(target, ' ')))
                return 400;
            *proto++ = '\0';
            if (strcmp(proto, "HTTP/1.1") != 0 || target[0] != '/')
                return 400;
            if (strcmp(method, "GET") != 0) {
                *why = "method must be GET";
                return 405;
            }
            q = strchr(target, '?');
            if (q)
                *q++ = '\0';
            hs->path = target;
            hs->query = q ? q : "";
            continue;
        }
        if (!*line)
            break;
        {
            char *colon = strchr(line, ':');
            char *value;
            if (!colon || colon == line || line[0] == ' ' || line[0] == '\t')
                return 400;   /* obsolete line folding is refused too */
            *colon = '\0';
            value = handshake_trim(colon + 1);
            if (strcasecmp(line, "Upgrade") == 0)
                upgrade = value;
            else if (strcasecmp(line, "Connection") == 0)
                connection = value;
            else if (strcasecmp(line, "Sec-WebSocket-Key") == 0)
                hs->key = value;
            else if (strcasecmp(line, "Sec-WebSocket-Version") == 0)
                version = value;
            else if (strcasecmp(line, "Origin") == 0)
                hs->origin = value;
            else if (strcasecmp(line, "Cookie") == 0)
                hs->cookie = value;
            else if (strcasecmp(line, "Authorization") == 0)
                hs->authorization = value;
            else if (strcasecmp(line, "Host") == 0)
                hs->host = value;
        }
    }
    if (first)
        return 400;
    if (!upgrade || !handshake_has_token(upgrade, "websocket")) {
        *why = "Upgrade: websocket is required";
        return 400;
    }
    if (!connection || !handshake_has_token(connection, "upgrade")) {
        *why = "Connection: Upgrade is required";
        return 400;
    }
    if (!version || strcmp(version, "13") != 0) {
        *why = "Sec-WebSocket-Version must be 13";
        return 426;
    }
    if (!hs->key || !handshake_key_ok(hs->key)) {
        *why = "Sec-WebSocket-Key must be 16 bytes in base64";
        return 400;
    }
    *why = "ok";
    return 0;
}

void handshake_accept(const char *key, char out[HANDSHAKE_ACCEPT_LEN + 1])
{
    unsigned char md[SHA_DIGEST_LENGTH];
    char buf[128];
    size_t n = strlen(key);

    /* Keys that passed handshake_parse are 24 characters. */
    if (n > sizeof(buf) - sizeof(HANDSHAKE_GUID))
        n = sizeof(buf) - sizeof(HANDSHAKE_GUID);
    memcpy(buf, key, n);
    memcpy(buf + n, HANDSHAKE_GUID, sizeof(HANDSHAKE_GUID) - 1);
    SHA1((const unsigned char *)buf, n + sizeof(HANDSHAKE_GUID) - 1, md);
    EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH);
}

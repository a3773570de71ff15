#include "req.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "log.h"
#include "params.h"
#include "xmalloc.h"

void req_init(struct req *rq, FCGX_Request *fx, const struct chat_config *cfg)
{
    const char *uri, *q;
    size_t n;

    memset(rq, 0, sizeof(*rq));
    rq->fx = fx;
    rq->cfg = cfg;
    rq->method = req_env(rq, "REQUEST_METHOD");
    if (!rq->method)
        rq->method = "GET";
    rq->query = req_env(rq, "QUERY_STRING");
    if (!rq->query)
        rq->query = "";
    uri = req_env(rq, "REQUEST_URI");
    if (!uri)
        uri = "";
    q = strchr(uri, '?');
    n = q ? (size_t)(q - uri) : strlen(uri);
    if (n >= sizeof(rq->path))
        n = sizeof(rq->path) - 1;
    memcpy(rq->path, uri, n);
    rq->path[n] = '\0';
    rq->params = cJSON_CreateObject();
}

void req_free(struct req *rq)
{
    cJSON_Delete(rq->params);
    rq->params = NULL;
}

const char *req_env(const struct req *rq, const char *name)
{
    return FCGX_GetParam(name, rq->fx->envp);
}

int req_read_body(struct req *rq, size_t max, char **body, size_t *len)
{
    const char *cl = req_env(rq, "CONTENT_LENGTH");
    char *end = NULL;
    unsigned long long want = 0;
    size_t got = 0;
    char *buf;

    *body = NULL;
    *len = 0;
    if (cl && *cl) {
        want = strtoull(cl, &end, 10);
        if (*end != '\0')
            return CHAT_ERR_INVALID;
    }
    if (want > max)
        return CHAT_ERR_TOOBIG;
    buf = xmalloc((size_t)want + 1);
    while (got < want) {
        int n = FCGX_GetStr(buf + got, (int)(want - got), rq->fx->in);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got < want) {
        free(buf);
        return CHAT_ERR_IO;
    }
    buf[got] = '\0';
    *body = buf;
    *len = got;
    return 0;
}

int req_parse_query(struct req *rq)
{
    return params_parse_form(rq->params, rq->query, strlen(rq->query));
}

int req_parse(struct req *rq)
{
    const char *ct = req_env(rq, "CONTENT_TYPE");
    char *body = NULL;
    size_t len = 0;
    int rc;

    /* The body first: a form keeps the first value of a key, so body
     * values win over the query string, as JSON members do. */
    if ((rc = req_read_body(rq, (size_t)rq->cfg->max_body, &body, &len)) < 0)
        return rc == CHAT_ERR_IO ? CHAT_ERR_INVALID : rc;
    if (len == 0)
        rc = 0;
    else if (ct && strncasecmp(ct, "application/json", 16) == 0)
        rc = params_parse_json(rq->params, body, len);
    else if (ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0)
        rc = params_parse_form(rq->params, body, len);
    else
        rc = CHAT_ERR_INVALID;
    free(body);
    if (rc == 0)
        rc = params_parse_form(rq->params, rq->query, strlen(rq->query));
    return rc;
}

/* Copies a token of exactly SESSION_TOKEN_LEN characters ending at a
 * delimiter; anything else is no token at all. */
static int req_copy_token(const char *s, size_t n, char out[SESSION_TOKEN_LEN + 1])
{
    if (n != SESSION_TOKEN_LEN)
        return CHAT_ERR_UNAUTH;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

int req_token(const struct req *rq, char out[SESSION_TOKEN_LEN + 1])
{
    return req_token_from(req_env(rq, "HTTP_AUTHORIZATION"), req_env(rq, "HTTP_COOKIE"), out);
}

int req_token_from(const char *auth, const char *cookie, char out[SESSION_TOKEN_LEN + 1])
{
    out[0] = '\0';
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        const char *t = auth + 7;
        while (*t == ' ')
            t++;
        return req_copy_token(t, strcspn(t, " \t"), out);
    }
    for (const char *c = cookie; c && *c;) {
        c += strspn(c, " \t;");
        if (strncmp(c, "sid=", 4) == 0)
            return req_copy_token(c + 4, strcspn(c + 4, "; \t"), out);
        c += strcspn(c, ";");
    }
    return CHAT_ERR_UNAUTH;
}

int req_auth(struct req *rq, struct rdb *db)
{
    int rc;

    if ((rc = req_token(rq, rq->token)) < 0)
        return rc;
    return session_lookup(db, rq->token, &rq->me);
}

int req_origin_ok(const struct req *rq)
{
    return req_origin_allowed(rq->cfg, req_env(rq, "HTTP_ORIGIN"), req_env(rq, "HTTP_HOST"),
                              req_env(rq, "HTTPS"));
}

int req_origin_allowed(const struct chat_config *cfg, const char *origin, const char *host,
                       const char *https)
{
    char own[512];

    if (!origin || !origin[0])
        return 1;
    if (cfg->n_origins > 0) {
        for (int i = 0; i < cfg->n_origins; i++)
            if (strcmp(origin, cfg->origins[i]) == 0)
                return 1;
        return 0;
    }
    if (!host || !host[0])
        return 0;
    snprintf(own, sizeof(own), "%s://%s",
             https && strcasecmp(https, "on") == 0 ? "https" : "http", host);
    return strcmp(origin, own) == 0;
}

const char *req_client_addr(const struct req *rq)
{
    const char *a = req_env(rq, "REMOTE_ADDR");
    return a && *a ? a : "-";
}

const char *req_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
    }
}

static void req_head(struct req *rq, int status, const char *type, const char *extra)
{
    rq->status = status;
    FCGX_FPrintF(rq->fx->out,
                 "Status: %d %s\r\n"
                 "%s%s%s"
                 "Cache-Control: no-store\r\n"
                 "X-Content-Type-Options: nosniff\r\n"
                 "%s\r\n",
                 status, req_reason(status),
                 type ? "Content-Type: " : "", type ? type : "", type ? "\r\n" : "",
                 extra ? extra : "");
}

void req_reply_json(struct req *rq, int status, const cJSON *body, const char *extra_headers)
{
    char *s = cJSON_PrintUnformatted(body);

    if (!s) {
        log_error("req", "event=json_print_failed path=%s", rq->path);
        abort();
    }
    req_head(rq, status, "application/json", extra_headers);
    FCGX_PutS(s, rq->fx->out);
    free(s);
}

void req_reply_empty(struct req *rq, int status, const char *extra_headers)
{
    req_head(rq, status, NULL, extra_headers);
}

char *req_error_body(int err, const char *message)
{
    cJSON *body = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(body, "error");
    char *s;

    cJSON_AddStringToObject(e, "code", err_code(err));
    cJSON_AddStringToObject(e, "message", message ? message : err_code(err));
    s = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    if (!s) {
        log_error("req", "event=json_print_failed");
        abort();
    }
    return s;
}

void req_reply_error(struct req *rq, int err, const char *message)
{
    int status = err_http_status(err);
    char extra[64] = "";
    char q[160];
    char *body;

    if (!message)
        message = err_code(err);
    if (err == CHAT_ERR_RATE || err == CHAT_ERR_UNAVAILABLE)
        snprintf(extra, sizeof(extra), "Retry-After: %d\r\n", rq->retry_after > 0 ? rq->retry_after : 1);
    body = req_error_body(err, message);
    req_head(rq, status, "application/json", extra);
    FCGX_PutS(body, rq->fx->out);
    free(body);
    log_msg(status >= 500 ? LOG_LVL_WARN : LOG_LVL_INFO, "req",
            "event=reject method=%s path=%s status=%d code=%s user=%s msg=%s", rq->method, rq->path,
            status, err_code(err), rq->me.name[0] ? rq->me.name : "-", log_quote(q, sizeof(q), message));
}

void req_cookie_header(const struct req *rq, const char *token, char *buf, size_t size)
{
    const char *https = req_env(rq, "HTTPS");
    int secure = rq->cfg->secure_cookies || (https && strcasecmp(https, "on") == 0);

    snprintf(buf, size, "Set-Cookie: sid=%s; Path=/; HttpOnly; SameSite=Lax; Max-Age=%d%s\r\n",
             token ? token : "", token ? rq->cfg->session_ttl : 0, secure ? "; Secure" : "");
}

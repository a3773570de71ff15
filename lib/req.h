/* req — one FastCGI request: its CGI environment, parameters (query
 * string plus a form or JSON body, size-limited), the session token
 * (cookie or bearer), the Origin check, and replies in the JSON and error
 * shapes of PROTOCOL.md. Used from one thread at a time. */
#ifndef SB_REQ_H
#define SB_REQ_H
#include <cjson/cJSON.h>
#include <fcgiapp.h>
#include <stddef.h>
#include "config.h"
#include "rdb.h"
#include "session.h"
#include "user.h"

struct req {
    FCGX_Request *fx;                /* borrowed */
    const struct chat_config *cfg;   /* borrowed */
    const char *method;              /* "GET", ...; never NULL */
    char path[1024];                 /* REQUEST_URI without the query */
    const char *query;               /* QUERY_STRING; never NULL */
    cJSON *params;                   /* owned; empty object until req_parse */
    struct user_id me;               /* set by req_auth */
    char token[SESSION_TOKEN_LEN + 1]; /* set by req_auth */
    int retry_after;                 /* seconds, sent with 429 and 503 */
    int status;                      /* status replied, 0 = none yet */
};

void req_init(struct req *rq, FCGX_Request *fx, const struct chat_config *cfg);
void req_free(struct req *rq);

/* A CGI variable ("HTTP_COOKIE", ...) or NULL. */
const char *req_env(const struct req *rq, const char *name);

/* Reads the parameters: the query string, then a body of type
 * application/json or application/x-www-form-urlencoded (JSON members win).
 * CHAT_ERR_TOOBIG over max_body; CHAT_ERR_INVALID for bad encoding, bad
 * JSON or another body type. */
int req_parse(struct req *rq);

/* Only the query string, for handlers that read the body themselves. */
int req_parse_query(struct req *rq);

/* Reads the raw body, at most max bytes: *body (caller frees) and *len.
 * CHAT_ERR_TOOBIG if it is longer; CHAT_ERR_IO if it ends early. */
int req_read_body(struct req *rq, size_t max, char **body, size_t *len);

/* The session token from `Authorization: Bearer` or the `sid` cookie.
 * Returns 0 and fills out, or CHAT_ERR_UNAUTH if there is none. */
int req_token(const struct req *rq, char out[SESSION_TOKEN_LEN + 1]);

/* Resolves the token to rq->me. CHAT_ERR_UNAUTH or CHAT_ERR_UNAVAILABLE. */
int req_auth(struct req *rq, struct rdb *db);

/* 1 if the request has no Origin or an allowed one (the configured list,
 * else the request's own scheme://Host), 0 otherwise. */
int req_origin_ok(const struct req *rq);

/* The client address for rate limits ("-" if unknown). */
const char *req_client_addr(const struct req *rq);

/* The same rules without a FastCGI request, for programs that keep their
 * own request state (chat-poll, wsgate). NULL or "" means absent. */
int req_origin_allowed(const struct chat_config *cfg, const char *origin, const char *host,
                       const char *https);
int req_token_from(const char *authorization, const char *cookie,
                   char out[SESSION_TOKEN_LEN + 1]);
/* {"error":{"code","message"}} as a new string (caller frees). */
char *req_error_body(int err, const char *message);
const char *req_reason(int status);

/* Replies. extra_headers: "" or complete "Name: value\r\n" lines. */
void req_reply_json(struct req *rq, int status, const cJSON *body, const char *extra_headers);
void req_reply_empty(struct req *rq, int status, const char *extra_headers);
/* {"error":{"code","message"}} with the status of err; Retry-After for
 * CHAT_ERR_RATE and CHAT_ERR_UNAVAILABLE. message NULL: a generic text. */
void req_reply_error(struct req *rq, int err, const char *message);

/* The Set-Cookie header line (with CRLF) for a session token, or for
 * clearing it (token NULL), into buf. */
void req_cookie_header(const struct req *rq, const char *token, char *buf, size_t size);

#endif

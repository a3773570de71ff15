/* chat-auth — register, login, logout, me (PROTOCOL.md "Auth"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fcgisrv.h"
#include "follow.h"
#include "log.h"
#include "params.h"
#include "ratelimit.h"
#include "session.h"
#include "user.h"
#include "valid.h"

static void auth_register(struct req *rq, struct rdb *db)
{
    const struct chat_config *cfg = rq->cfg;
    const char *user, *pw;
    cJSON *body;
    int rc;

    if ((rc = req_parse(rq)) < 0)
        return req_reply_error(rq, rc, "could not read the request body");
    user = params_str(rq->params, "user");
    pw = params_str(rq->params, "password");
    if (!user || !valid_name(user))
        return req_reply_error(rq, CHAT_ERR_INVALID,
                               "user must be 1-32 characters of A-Z a-z 0-9 _ . - starting with a letter or digit");
    if (!pw || strlen(pw) < PASSWORD_MIN || strlen(pw) > PASSWORD_MAX)
        return req_reply_error(rq, CHAT_ERR_INVALID, "password must be 8 to 256 bytes");
    /* Registrations have a per-address budget of their own (the same
     * size as the login one), so a script cannot create accounts without
     * limit. */
    if ((rc = ratelimit_hit(db, "reg", req_client_addr(rq), 1, cfg->login_max_addr,
                            cfg->login_window, &rq->retry_after)) < 0)
        return req_reply_error(rq, rc, rc == CHAT_ERR_RATE ? "too many registrations from this address" : NULL);
    rc = user_create(db, user, pw);
    if (rc == CHAT_ERR_CONFLICT)
        return req_reply_error(rq, rc, "that user name is taken");
    if (rc < 0)
        return req_reply_error(rq, rc, rc == CHAT_ERR_INVALID ? "invalid user name or password" : NULL);
    log_info("auth", "event=register user=%s", user);
    body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "user", user);
    req_reply_json(rq, 201, body, "");
    cJSON_Delete(body);
}

static void auth_login(struct req *rq, struct rdb *db)
{
    const struct chat_config *cfg = rq->cfg;
    char lname[NAME_MAX_LEN + 1], token[SESSION_TOKEN_LEN + 1], cookie[256];
    const char *user, *pw;
    struct user_id id;
    cJSON *body;
    int rc;

    if ((rc = req_parse(rq)) < 0)
        return req_reply_error(rq, rc, "could not read the request body");
    user = params_str(rq->params, "user");
    pw = params_str(rq->params, "password");
    if (!user || !pw)
        return req_reply_error(rq, CHAT_ERR_INVALID, "user and password are required");
    if ((rc = ratelimit_hit(db, "login_addr", req_client_addr(rq), 1, cfg->login_max_addr,
                            cfg->login_window, &rq->retry_after)) < 0)
        return req_reply_error(rq, rc, rc == CHAT_ERR_RATE ? "too many login attempts from this address" : NULL);
    /* Failed attempts per user: look first, count only failures, so a
     * user who types the right password is never locked out by their own
     * successful logins. */
    if (valid_name_lower(lname, user) == 0 &&
        (rc = ratelimit_hit(db, "login_user", lname, 0, cfg->login_max_user - 1,
                            cfg->login_window, &rq->retry_after)) < 0)
        return req_reply_error(rq, rc, rc == CHAT_ERR_RATE ? "too many failed logins for this user; try again later" : NULL);
    rc = user_verify(db, user, pw, &id);
    if (rc == CHAT_ERR_UNAUTH) {
        int ra;
        if (lname[0] && valid_name(user))
            (void)ratelimit_hit(db, "login_user", lname, 1, cfg->login_max_user, cfg->login_window, &ra);
        log_info("auth", "event=login_failed user=%s addr=%s", valid_name(user) ? user : "-",
                 req_client_addr(rq));
        return req_reply_error(rq, rc, "wrong user name or password");
    }
    if (rc < 0)
        return req_reply_error(rq, rc, NULL);
    if ((rc = session_create(db, &id, token)) < 0)
        return req_reply_error(rq, rc, NULL);
    log_info("auth", "event=login user=%s addr=%s", id.name, req_client_addr(rq));
    req_cookie_header(rq, token, cookie, sizeof(cookie));
    body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "user", id.name);
    cJSON_AddStringToObject(body, "token", token);
    req_reply_json(rq, 200, body, cookie);
    cJSON_Delete(body);
}

static void auth_logout(struct req *rq, struct rdb *db)
{
    char cookie[256];
    int rc, all = 0;

    if ((rc = req_parse(rq)) < 0)
        return req_reply_error(rq, rc, "could not read the request body");
    if (params_bool(rq->params, "all", 0, &all) < 0)
        return req_reply_error(rq, CHAT_ERR_INVALID, "all must be 0 or 1");
    if ((rc = req_auth(rq, db)) < 0)
        return req_reply_error(rq, rc, "not signed in");
    rc = all ? session_delete_all(db, &rq->me) : session_delete(db, rq->token);
    if (rc < 0)
        return req_reply_error(rq, rc, NULL);
    log_info("auth", "event=logout user=%s all=%d", rq->me.name, all);
    req_cookie_header(rq, NULL, cookie, sizeof(cookie));
    req_reply_empty(rq, 204, cookie);
}

static void auth_me(struct req *rq, struct rdb *db)
{
    struct follow f;
    char *cursor = NULL;
    cJSON *body;
    int rc;

    if ((rc = req_auth(rq, db)) < 0)
        return req_reply_error(rq, rc, "not signed in");
    if ((rc = follow_load(db, &rq->me, &f)) < 0)
        return req_reply_error(rq, rc, NULL);
    if ((rc = follow_cursor_now(db, &f, &cursor)) < 0) {
        follow_free(&f);
        return req_reply_error(rq, rc, NULL);
    }
    body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "user", rq->me.name);
    cJSON_AddItemToObject(body, "rooms", f.rooms);
    f.rooms = NULL;
    cJSON_AddStringToObject(body, "cursor", cursor);
    /* Where the page opens its WebSocket: through the front server by
     * default, or wsgate's own port to skip a hop ([ws] url). */
    cJSON_AddStringToObject(body, "ws_url", rq->cfg->ws_url[0] ? rq->cfg->ws_url : "/ws");
    req_reply_json(rq, 200, body, "");
    cJSON_Delete(body);
    free(cursor);
    follow_free(&f);
}

static const struct {
    const char *method, *path;
    void (*fn)(struct req *, struct rdb *);
} auth_routes[] = {
    { "POST", "/api/auth/register", auth_register },
    { "POST", "/api/auth/login", auth_login },
    { "POST", "/api/auth/logout", auth_logout },
    { "GET", "/api/auth/me", auth_me },
};

static void auth_handle(struct req *rq, struct rdb *db, void *arg)
{
    for (size_t i = 0; i < sizeof(auth_routes) / sizeof(auth_routes[0]); i++) {
        if (strcmp(rq->path, auth_routes[i].path) != 0)
            continue;
        if (strcmp(rq->method, auth_routes[i].method) != 0)
            return req_reply_error(rq, CHAT_ERR_NOTFOUND, "method not allowed on this path");
        return auth_routes[i].fn(rq, db);
    }
    req_reply_error(rq, CHAT_ERR_NOTFOUND, "no such endpoint");
}

int main(int argc, char **argv)
{
    static const struct fcgisrv_prog prog = {
        "chat-auth", "Switchboard FastCGI program: register, login, logout, me.", auth_handle, NULL,
    };
    return fcgisrv_main(argc, argv, &prog);
}

/* chat-api — messages, history, conversations, rooms, presence
 * (PROTOCOL.md "Messages, conversations, rooms"). Every endpoint needs a
 * session. */
#include <string.h>

#include "api.h"
#include "err.h"
#include "fcgisrv.h"

/* A route whose path ends in '/' matches that prefix; a raw route reads
 * its own body (uploads), the others get parameters parsed. */
static const struct {
    const char *method, *path;
    api_handler_fn fn;
    int raw;
} api_routes[] = {
    { "POST", "/api/send", api_send, 0 },
    { "GET", "/api/history", api_history, 0 },
    { "GET", "/api/conversations", api_conversations, 0 },
    { "POST", "/api/read", api_read, 0 },
    { "POST", "/api/conversations/delete", api_conv_delete, 0 },
    { "GET", "/api/rooms", api_rooms_list, 0 },
    { "POST", "/api/rooms", api_rooms_create, 0 },
    { "POST", "/api/rooms/join", api_rooms_join, 0 },
    { "POST", "/api/rooms/leave", api_rooms_leave, 0 },
    { "GET", "/api/presence", api_presence, 0 },
    { "PUT", "/api/upload", api_upload, 1 },
    { "GET", "/api/media/", api_media_get, 1 },
};

void api_finish(struct req *rq, int rc, int status, cJSON *body, const char *msg)
{
    if (rc < 0)
        req_reply_error(rq, rc, msg);
    else if (body)
        req_reply_json(rq, status, body, "");
    else
        req_reply_empty(rq, status, "");
    cJSON_Delete(body);
}

static void api_handle(struct req *rq, struct rdb *db, void *arg)
{
    int rc, path_known = 0;

    for (size_t i = 0; i < sizeof(api_routes) / sizeof(api_routes[0]); i++) {
        const char *rp = api_routes[i].path;
        size_t rl = strlen(rp);
        if (rp[rl - 1] == '/' ? strncmp(rq->path, rp, rl) != 0 : strcmp(rq->path, rp) != 0)
            continue;
        path_known = 1;
        if (strcmp(rq->method, api_routes[i].method) != 0)
            continue;
        if ((rc = req_auth(rq, db)) < 0)
            return req_reply_error(rq, rc, rc == CHAT_ERR_UNAUTH ? "not signed in" : NULL);
        rc = api_routes[i].raw ? req_parse_query(rq) : req_parse(rq);
        if (rc < 0)
            return req_reply_error(rq, rc, rc == CHAT_ERR_TOOBIG ? "request body too large"
                                                                 : "could not parse the request");
        return api_routes[i].fn(rq, db);
    }
    req_reply_error(rq, CHAT_ERR_NOTFOUND, path_known ? "method not allowed on this path" : "no such endpoint");
}

int main(int argc, char **argv)
{
    static const struct fcgisrv_prog prog = {
        "chat-api", "Switchboard FastCGI program: messages, history, conversations, rooms, presence.",
        api_handle, NULL,
    };
    return fcgisrv_main(argc, argv, &prog);
}

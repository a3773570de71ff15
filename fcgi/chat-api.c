/* chat-api — messages, history, conversations, rooms, presence
 * (PROTOCOL.md "Messages, conversations, rooms"). Every endpoint needs a
 * session. */
#include <string.h>

#include "api.h"
#include "err.h"
#include "fcgisrv.h"

static const struct {
    const char *method, *path;
    api_handler_fn fn;
} api_routes[] = {
    { "POST", "/api/send", api_send },
    { "GET", "/api/history", api_history },
    { "GET", "/api/conversations", api_conversations },
    { "POST", "/api/read", api_read },
    { "POST", "/api/conversations/delete", api_conv_delete },
    { "GET", "/api/rooms", api_rooms_list },
    { "POST", "/api/rooms", api_rooms_create },
    { "POST", "/api/rooms/join", api_rooms_join },
    { "POST", "/api/rooms/leave", api_rooms_leave },
    { "GET", "/api/presence", api_presence },
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
        if (strcmp(rq->path, api_routes[i].path) != 0)
            continue;
        path_known = 1;
        if (strcmp(rq->method, api_routes[i].method) != 0)
            continue;
        if ((rc = req_auth(rq, db)) < 0)
            return req_reply_error(rq, rc, rc == CHAT_ERR_UNAUTH ? "not signed in" : NULL);
        if ((rc = req_parse(rq)) < 0)
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

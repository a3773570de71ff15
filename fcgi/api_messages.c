/* POST /api/send, GET /api/history */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "err.h"
#include "message.h"
#include "params.h"
#include "valid.h"

void api_send(struct req *rq, struct rdb *db)
{
    struct message_in in = { 0 };
    struct message_out out;
    const char *msg = NULL;
    cJSON *body = NULL;
    int rc;

    in.to = params_str(rq->params, "to");
    in.room = params_str(rq->params, "room");
    in.text = params_str(rq->params, "text");
    in.cid = params_str(rq->params, "cid");
    if (params_has(rq->params, "att")) {
        /* {"url":…} from an upload's reply, or just the url. */
        const cJSON *att = cJSON_GetObjectItemCaseSensitive(rq->params, "att");
        const cJSON *url = cJSON_IsObject(att) ? cJSON_GetObjectItemCaseSensitive(att, "url") : att;
        if (!cJSON_IsString(url))
            return req_reply_error(rq, CHAT_ERR_INVALID, "att must be an upload's url");
        in.att_url = url->valuestring;
    }
    if (in.room && in.room[0] == '#')
        in.room++;
    if ((in.to == NULL) == (in.room == NULL))
        return req_reply_error(rq, CHAT_ERR_INVALID, "give either to (a user) or room");
    if (!in.text)
        return req_reply_error(rq, CHAT_ERR_INVALID, "text is required");
    if (params_has(rq->params, "cid") && (!in.cid || !valid_cid(in.cid)))
        return req_reply_error(rq, CHAT_ERR_INVALID, "cid must be 1-64 printable ASCII characters");
    in.text_len = strlen(in.text);
    rc = message_send(db, &rq->me, &in, &out);
    switch (rc) {
    case 0:
        body = cJSON_CreateObject();
        cJSON_AddNumberToObject(body, "id", (double)out.id);
        cJSON_AddStringToObject(body, "conv", out.conv);
        cJSON_AddNumberToObject(body, "ts", (double)out.ts);
        break;
    case CHAT_ERR_INVALID:
        msg = in.att_url ? "unknown attachment or invalid message"
            : in.text_len == 0 ? "text must not be empty"
            : !valid_utf8(in.text, in.text_len) ? "text must be valid UTF-8"
            : "invalid recipient (a valid name other than yourself)";
        break;
    case CHAT_ERR_TOOBIG: msg = "text is longer than allowed"; break;
    case CHAT_ERR_NOTFOUND: msg = in.to ? "no such user" : "no such room"; break;
    case CHAT_ERR_FORBIDDEN: msg = "join the room before sending to it"; break;
    case CHAT_ERR_RATE:
        rq->retry_after = out.retry_after;
        msg = "sending too fast";
        break;
    default: break;
    }
    api_finish(rq, rc, 200, body, msg);
}

void api_history(struct req *rq, struct rdb *db)
{
    const char *conv = params_str(rq->params, "conv");
    long long before = 0, limit = 0;
    cJSON *body = NULL;
    int rc;

    if (!conv)
        return req_reply_error(rq, CHAT_ERR_INVALID, "conv is required");
    if (params_int(rq->params, "before", 1, (1LL << 53), 0, &before) < 0)
        return req_reply_error(rq, CHAT_ERR_INVALID, "before must be a positive id");
    if (params_int(rq->params, "limit", 1, HISTORY_LIMIT_MAX, HISTORY_LIMIT_DEFAULT, &limit) < 0)
        return req_reply_error(rq, CHAT_ERR_INVALID, "limit must be 1 to 200");
    rc = message_history(db, &rq->me, conv, before, (int)limit, &body);
    api_finish(rq, rc, 200, body,
               rc == CHAT_ERR_INVALID ? "conv must be a user name or #room"
               : rc == CHAT_ERR_NOTFOUND ? "no such conversation" : NULL);
}

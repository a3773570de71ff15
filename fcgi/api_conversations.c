/* GET /api/conversations, POST /api/read, POST /api/conversations/delete,
 * GET /api/presence */
#include "api.h"
#include "conv.h"
#include "err.h"
#include "params.h"
#include "presence.h"

static const char *api_conv_msg(int rc)
{
    return rc == CHAT_ERR_INVALID ? "conv must be a user name or #room"
         : rc == CHAT_ERR_NOTFOUND ? "no such conversation" : NULL;
}

void api_conversations(struct req *rq, struct rdb *db)
{
    cJSON *body = NULL;
    int rc = conv_list(db, &rq->me, &body);
    api_finish(rq, rc, 200, body, NULL);
}

void api_read(struct req *rq, struct rdb *db)
{
    const char *conv = params_str(rq->params, "conv");
    long long upto = 0;
    int rc;

    if (!conv)
        return req_reply_error(rq, CHAT_ERR_INVALID, "conv is required");
    if (!params_has(rq->params, "upto") ||
        params_int(rq->params, "upto", 0, (1LL << 53), 0, &upto) < 0)
        return req_reply_error(rq, CHAT_ERR_INVALID, "upto must be a message id");
    rc = conv_read(db, &rq->me, conv, upto);
    api_finish(rq, rc, 204, NULL,
               rc == CHAT_ERR_INVALID && conv[0] ? "conv must be a user name or #room, and upto an id it has"
                                                 : api_conv_msg(rc));
}

void api_conv_delete(struct req *rq, struct rdb *db)
{
    const char *conv = params_str(rq->params, "conv");
    int rc;

    if (!conv)
        return req_reply_error(rq, CHAT_ERR_INVALID, "conv is required");
    rc = conv_delete(db, &rq->me, conv);
    api_finish(rq, rc, 204, NULL, api_conv_msg(rc));
}

void api_presence(struct req *rq, struct rdb *db)
{
    cJSON *body = NULL;
    int rc = presence_online(db, &rq->me, params_str(rq->params, "users"), &body);
    api_finish(rq, rc, 200, body,
               rc == CHAT_ERR_INVALID ? "users must be a comma list of at most 200 user names" : NULL);
}

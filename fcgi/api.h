/* The chat-api handlers, one file per area; chat-api.c routes to them
 * after authenticating the request (rq->me is set). */
#ifndef SB_API_H
#define SB_API_H
#include "rdb.h"
#include "req.h"

typedef void (*api_handler_fn)(struct req *rq, struct rdb *db);

/* api_messages.c */
void api_send(struct req *rq, struct rdb *db);
void api_history(struct req *rq, struct rdb *db);

/* api_conversations.c */
void api_conversations(struct req *rq, struct rdb *db);
void api_read(struct req *rq, struct rdb *db);
void api_conv_delete(struct req *rq, struct rdb *db);
void api_presence(struct req *rq, struct rdb *db);

/* api_rooms.c */
void api_rooms_list(struct req *rq, struct rdb *db);
void api_rooms_create(struct req *rq, struct rdb *db);
void api_rooms_join(struct req *rq, struct rdb *db);
void api_rooms_leave(struct req *rq, struct rdb *db);

/* api_media.c */
void api_upload(struct req *rq, struct rdb *db);
void api_media_get(struct req *rq, struct rdb *db);

/* Replies with *body (200 or status) and frees it, or with the error of
 * rc and msg when rc < 0. Shared tail of most handlers. */
void api_finish(struct req *rq, int rc, int status, cJSON *body, const char *msg);

#endif

/* GET/POST /api/rooms, POST /api/rooms/join, POST /api/rooms/leave */
#include "api.h"
#include "err.h"
#include "params.h"
#include "room.h"

/* Accepts "lobby" and "#lobby" alike. */
static const char *api_room_param(struct req *rq)
{
    const char *room = params_str(rq->params, "room");
    if (room && room[0] == '#')
        room++;
    return room;
}

static const char *api_room_msg(int rc)
{
    return rc == CHAT_ERR_INVALID ? "room must be 1-32 characters of A-Z a-z 0-9 _ . -"
         : rc == CHAT_ERR_NOTFOUND ? "no such room"
         : rc == CHAT_ERR_CONFLICT ? "that room name is taken" : NULL;
}

void api_rooms_list(struct req *rq, struct rdb *db)
{
    cJSON *body = NULL;
    int rc = room_list(db, &rq->me, &body);
    api_finish(rq, rc, 200, body, NULL);
}

void api_rooms_create(struct req *rq, struct rdb *db)
{
    const char *room = api_room_param(rq), *title = params_str(rq->params, "title");
    cJSON *body = NULL;
    int rc;

    if (!room)
        return req_reply_error(rq, CHAT_ERR_INVALID, "room is required");
    if (params_has(rq->params, "title") && !title)
        return req_reply_error(rq, CHAT_ERR_INVALID, "title must be a string");
    rc = room_create(db, &rq->me, room, title, &body);
    api_finish(rq, rc, 201, body,
               rc == CHAT_ERR_TOOBIG ? "title is too long" : api_room_msg(rc));
}

static void api_rooms_member(struct req *rq, struct rdb *db,
                             int (*fn)(struct rdb *, const struct user_id *, const char *))
{
    const char *room = api_room_param(rq);
    int rc;

    if (!room)
        return req_reply_error(rq, CHAT_ERR_INVALID, "room is required");
    rc = fn(db, &rq->me, room);
    api_finish(rq, rc, 204, NULL, api_room_msg(rc));
}

void api_rooms_join(struct req *rq, struct rdb *db)
{
    api_rooms_member(rq, db, room_join);
}

void api_rooms_leave(struct req *rq, struct rdb *db)
{
    api_rooms_member(rq, db, room_leave);
}

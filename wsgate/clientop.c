/* clientop — what wsgate does for a client's ops once wsop.c has checked
 * them: send (message_send on the sender thread, answered by ack or
 * error), typing (Redis pub/sub to the peer's or room's sockets on every
 * wsgate process, never stored) and resume (replay from a cursor). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clientop.h"
#include "clock.h"
#include "cursor.h"
#include "err.h"
#include "keys.h"
#include "log.h"
#include "valid.h"
#include "wsconn.h"
#include "xmalloc.h"

static void clientop_on_sent(struct sender_job *job, void *arg)
{
    struct ws_conn *c = arg;

    if (c->bev && c->state == WS_OPEN) {
        if (job->rc == 0) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "type", "ack");
            if (job->cid)
                cJSON_AddStringToObject(o, "cid", job->cid);
            cJSON_AddNumberToObject(o, "id", (double)job->out.id);
            cJSON_AddStringToObject(o, "conv", job->out.conv);
            cJSON_AddNumberToObject(o, "ts", (double)job->out.ts);
            wsconn_push_json(c, o);
        } else {
            char why[96];
            if (job->rc == CHAT_ERR_RATE)
                snprintf(why, sizeof(why), "sending too fast; retry in %d s", job->out.retry_after);
            wsconn_error(c, job->cid, job->rc,
                         job->rc == CHAT_ERR_NOTFOUND ? "no such user or room"
                         : job->rc == CHAT_ERR_FORBIDDEN ? "join the room before sending to it"
                         : job->rc == CHAT_ERR_TOOBIG ? "text is longer than allowed"
                         : job->rc == CHAT_ERR_RATE ? why
                         : job->rc == CHAT_ERR_INVALID ? "invalid message: text, recipient or attachment"
                         : NULL);
        }
        wsconn_pump(c);
    }
    sender_job_free(job);
    wsconn_unref(c);
}

static char *clientop_dup_str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? xstrdup(v->valuestring) : NULL;
}

void clientop_send(struct ws_conn *c, const cJSON *op)
{
    struct sender_job *job = xcalloc(1, sizeof(*job));
    const cJSON *cid = cJSON_GetObjectItemCaseSensitive(op, "cid");

    job->from = c->me;
    job->to = clientop_dup_str(op, "to");
    job->room = clientop_dup_str(op, "room");
    job->text = clientop_dup_str(op, "text");
    job->cid = clientop_dup_str(op, "cid");
    {
        /* {"url":…} from an upload's reply, or just the url; anything else
         * is refused, as over HTTP. */
        const cJSON *att = cJSON_GetObjectItemCaseSensitive(op, "att");
        const cJSON *url = cJSON_IsObject(att) ? cJSON_GetObjectItemCaseSensitive(att, "url") : att;
        if (att && !cJSON_IsString(url)) {
            wsconn_error(c, job->cid, CHAT_ERR_INVALID, "att must be an upload's url");
            sender_job_free(job);
            return;
        }
        job->att = url ? xstrdup(url->valuestring) : NULL;
    }
    if (job->room && job->room[0] == '#')
        memmove(job->room, job->room + 1, strlen(job->room));
    if ((cid && !job->cid) || (job->cid && !valid_cid(job->cid))) {
        wsconn_error(c, NULL, CHAT_ERR_INVALID, "cid must be 1-64 printable ASCII characters");
        sender_job_free(job);
        return;
    }
    if ((!job->to == !job->room) || !job->text) {
        wsconn_error(c, job->cid, CHAT_ERR_INVALID, "send needs text and either to or room");
        sender_job_free(job);
        return;
    }
    job->done = clientop_on_sent;
    job->arg = c;
    c->refs++;
    c->gw->st.sends++;
    sender_submit(c->gw->sender, job);
}

/* Typing goes to the peer (or the room's members) through Redis pub/sub,
 * so it reaches them on any wsgate process; it is never stored. */
struct clientop_typing {
    struct wsgate *gw;
    cJSON *msg;                    /* {"to":[…],"ev":{…}} */
    char self[NAME_MAX_LEN + 1];   /* the typist, left out of a room's list */
};

static void clientop_typing_publish(struct wsgate *gw, cJSON *msg)
{
    char *payload = cJSON_PrintUnformatted(msg);

    if (payload && ardb_cmd(hub_ardb(gw->hub), NULL, NULL, "PUBLISH %s %s", gw->typing_channel, payload) < 0)
        log_debug("wsgate", "event=typing_dropped reason=redis_down");
    free(payload);
}

static void clientop_on_members(struct ardb *a, redisReply *reply, void *arg)
{
    struct clientop_typing *t = arg;
    cJSON *to = cJSON_GetObjectItemCaseSensitive(t->msg, "to");
    char l[NAME_MAX_LEN + 1];

    int member = 0;

    (void)a;
    if (reply && reply->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < reply->elements; i++) {
            if (reply->element[i]->type != REDIS_REPLY_STRING ||
                valid_name_lower(l, reply->element[i]->str) < 0)
                continue;
            if (strcmp(l, t->self) == 0)
                member = 1;
            else
                cJSON_AddItemToArray(to, cJSON_CreateString(l));
        }
        /* Only a member's typing reaches a room. */
        if (member && cJSON_GetArraySize(to) > 0)
            clientop_typing_publish(t->gw, t->msg);
    }
    cJSON_Delete(t->msg);
    free(t);
}

void clientop_typing(struct ws_conn *c, const cJSON *op)
{
    struct wsgate *gw = c->gw;
    const cJSON *conv = cJSON_GetObjectItemCaseSensitive(op, "conv");
    char lname[NAME_MAX_LEN + 1], k[KEY_MAX];
    long long now = clock_mono_ms();
    cJSON *msg, *to, *ev;
    bool is_room;

    if (!cJSON_IsString(conv) || valid_conv(conv->valuestring, &is_room, lname) < 0) {
        wsconn_error(c, NULL, CHAT_ERR_INVALID, "typing needs conv: a user name or #room");
        return;
    }
    /* Rate limit per connection: typing is a hint, extra ones are dropped. */
    if (c->last_typing && now - c->last_typing < gw->cfg->ws_typing_interval_ms)
        return;
    c->last_typing = now;
    gw->st.typing++;
    msg = cJSON_CreateObject();
    to = cJSON_AddArrayToObject(msg, "to");
    ev = cJSON_AddObjectToObject(msg, "ev");
    cJSON_AddStringToObject(ev, "type", "typing");
    cJSON_AddStringToObject(ev, "from", c->me.name);
    if (is_room) {
        struct clientop_typing *t = xcalloc(1, sizeof(*t));
        char convkey[NAME_MAX_LEN + 2];
        snprintf(convkey, sizeof(convkey), "#%s", lname);
        cJSON_AddStringToObject(ev, "conv", convkey);
        t->gw = gw;
        t->msg = msg;
        snprintf(t->self, sizeof(t->self), "%s", c->me.lname);
        keys_members(k, gw->cfg->key_prefix, lname);
        if (ardb_cmd(hub_ardb(gw->hub), clientop_on_members, t, "SMEMBERS %s", k) < 0) {
            cJSON_Delete(msg);
            free(t);
        }
        return;
    }
    cJSON_AddStringToObject(ev, "conv", c->me.name);
    cJSON_AddItemToArray(to, cJSON_CreateString(lname));
    clientop_typing_publish(gw, msg);
    cJSON_Delete(msg);
}

void clientop_resume(struct ws_conn *c, const cJSON *op)
{
    const cJSON *cur = cJSON_GetObjectItemCaseSensitive(op, "cursor");
    struct cursor probe;

    cursor_init(&probe);
    if (!cJSON_IsString(cur) || cursor_decode(&probe, cur->valuestring) < 0) {
        cursor_free(&probe);
        wsconn_error(c, NULL, CHAT_ERR_INVALID, "resume needs a valid cursor");
        return;
    }
    cursor_free(&probe);
    if (c->sub)
        hub_sub_close(c->sub);
    c->sub = NULL;
    wsconn_drop_queue(c);   /* what was queued is replayed from the cursor */
    wsconn_sub_start(c, cur->valuestring);
}

void clientop_typing_deliver(struct wsgate *gw, const cJSON *to, const char *json)
{
    const cJSON *u;

    cJSON_ArrayForEach(u, to) {
        if (!cJSON_IsString(u))
            continue;
        for (struct ws_conn *c = gw->conns, *next; c; c = next) {
            next = c->next;
            if (c->state == WS_OPEN && strcmp(c->me.lname, u->valuestring) == 0) {
                wsconn_push(c, json, strlen(json));
                wsconn_pump(c);
            }
        }
    }
}

/* clientop — the ops a client sends over its socket (see wsop.h for the
 * checks every message passes first). Called on the gateway's loop from
 * the connection's message callback; none frees the connection. */
#ifndef SB_CLIENTOP_H
#define SB_CLIENTOP_H
#include <cjson/cJSON.h>

struct ws_conn;
struct wsgate;

/* op: the parsed message (not kept). Replies go through the connection's
 * queue (ack/error for send; error for a bad typing or resume). */
void clientop_send(struct ws_conn *c, const cJSON *op);
void clientop_typing(struct ws_conn *c, const cJSON *op);
void clientop_resume(struct ws_conn *c, const cJSON *op);

/* A typing event from Redis: hand json to the local connections of the
 * users named (lower-cased) in `to`. */
void clientop_typing_deliver(struct wsgate *gw, const cJSON *to, const char *json);

#endif

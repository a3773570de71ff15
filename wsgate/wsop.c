#include "wsop.h"

#include <string.h>

#include "params.h"
#include "valid.h"

void wsop_parse(uint8_t opcode, const uint8_t *msg, size_t len, struct wsop *op)
{
    static const struct {
        const char *name;
        enum wsop_kind kind;
    } ops[] = {
        { "ping", WSOP_PING }, { "send", WSOP_SEND }, { "typing", WSOP_TYPING }, { "resume", WSOP_RESUME },
    };
    const cJSON *name;

    memset(op, 0, sizeof(*op));
    if (opcode != 1) {
        op->kind = WSOP_CLOSE;
        op->close_code = 1003;
        op->why = "text frames only";
        return;
    }
    if (!valid_utf8((const char *)msg, len)) {
        op->kind = WSOP_CLOSE;
        op->close_code = 1007;
        op->why = "invalid UTF-8";
        return;
    }
    op->kind = WSOP_ERROR;
    op->why = "each message must be a JSON object with an op";
    /* The same parser as HTTP bodies: one object, nothing after it, no
     * \u0000 that would cut a string short. */
    op->json = cJSON_CreateObject();
    if (params_parse_json(op->json, (const char *)msg, len) < 0)
        return;
    name = cJSON_GetObjectItemCaseSensitive(op->json, "op");
    if (!cJSON_IsString(name))
        return;
    op->why = "unknown op";
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        if (strcmp(name->valuestring, ops[i].name) == 0) {
            op->kind = ops[i].kind;
            op->why = NULL;
            return;
        }
    }
}

void wsop_free(struct wsop *op)
{
    cJSON_Delete(op->json);
    op->json = NULL;
}

/* event — the one event encoder/decoder shared by every transport. Stored
 * events are JSON objects built in Lua by concatenating
 *   {"type":"...","chan":"...","id":N,"ts":N, <members> }
 * where <members> comes from event_members() here (escaped by cJSON). */
#ifndef SB_EVENT_H
#define SB_EVENT_H
#include <stddef.h>
#include <cjson/cJSON.h>

/* Prints obj compactly without its outer braces, e.g. "\"from\":\"a\"".
 * An empty object gives "". The caller frees the result. */
char *event_members(const cJSON *obj);

/* Parses one stored event. NULL if it is not a JSON object. Caller frees
 * with cJSON_Delete. */
cJSON *event_parse(const char *json, size_t len);

/* Members of a parsed event: the id (-1 if missing), the chan/type
 * (NULL if missing). */
long long event_id(const cJSON *ev);
const char *event_chan(const cJSON *ev);
const char *event_type(const cJSON *ev);

/* Returns a new string: json (an object) with ,"cursor":"<cursor>" added
 * before the closing brace, for the WebSocket transport. NULL if json does
 * not end with '}'. Caller frees. */
char *event_with_cursor(const char *json, size_t len, const char *cursor);

/* The same without building a string, for a transport that writes the
 * pieces itself: json[0..*body) (everything before the closing brace),
 * *sep (EVENT_CURSOR_OPEN, or without its comma for {}), the cursor (as
 * hub_sub_cursor_peek gives it: nothing in it needs escaping), then
 * EVENT_CURSOR_CLOSE. Returns 0, or -1 if json does not end with '}'. */
#define EVENT_CURSOR_OPEN ",\"cursor\":\""
#define EVENT_CURSOR_CLOSE "\"}"
int event_cursor_split(const char *json, size_t len, size_t *body, const char **sep);

#endif

/* params — request parameters from a query string, a form body or a JSON
 * body, gathered into one cJSON object so handlers read them one way.
 * Pure parsing: no FastCGI, no I/O. */
#ifndef SB_PARAMS_H
#define SB_PARAMS_H
#include <stddef.h>
#include <cjson/cJSON.h>

/* Decodes application/x-www-form-urlencoded data ('+' is space, %XX) of
 * len bytes into string members of obj. A repeated key keeps its first
 * value. Returns 0, or CHAT_ERR_INVALID for a bad %-escape, a NUL byte or
 * invalid UTF-8 after decoding (obj may then hold some members). */
int params_parse_form(cJSON *obj, const char *data, size_t len);

/* Parses a JSON body that must be an object and moves its members into
 * obj (members already in obj, e.g. from the query string, are replaced).
 * Returns 0 or CHAT_ERR_INVALID (not JSON, not an object, or strings that
 * are not valid UTF-8). */
int params_parse_json(cJSON *obj, const char *data, size_t len);

/* The string value of member name, or NULL if missing or not a string. */
const char *params_str(const cJSON *obj, const char *name);

/* True if member name is present (any type). */
int params_has(const cJSON *obj, const char *name);

/* An integer from a JSON number (integral) or a decimal string. Missing:
 * *out = def and 0. Present but not an integer or outside [min, max]:
 * CHAT_ERR_INVALID (never clamped). */
int params_int(const cJSON *obj, const char *name, long long min, long long max,
               long long def, long long *out);

/* A boolean from true/false, 1/0, "1"/"0", "true"/"false". Missing: def. */
int params_bool(const cJSON *obj, const char *name, int def, int *out);

/* Decodes %XX and '+' in place; s[*len] is set to NUL. Returns 0 or
 * CHAT_ERR_INVALID for a bad escape. */
int params_url_decode(char *s, size_t *len);

#endif

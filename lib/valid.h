/* valid — input validation: names, UTF-8, text, client ids. Pure
 * functions, no allocation. */
#ifndef SB_VALID_H
#define SB_VALID_H
#include <stdbool.h>
#include <stddef.h>

#define NAME_MAX_LEN 32          /* user and room names */
#define CID_MAX_LEN 64           /* client message ids */

/* [A-Za-z0-9][A-Za-z0-9_.-]{0,31} */
bool valid_name(const char *s);

/* Lower-cases a valid name into out (NAME_MAX_LEN + 1 bytes). Returns 0,
 * or CHAT_ERR_INVALID if s is not a valid name (out is then ""). Names are
 * unique without regard to case, so every key uses this form. */
int valid_name_lower(char out[NAME_MAX_LEN + 1], const char *s);

/* Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing past
 * U+10FFFF. NUL bytes are rejected too, since text travels as C strings. */
bool valid_utf8(const char *s, size_t len);

/* Valid UTF-8 of 1..max bytes. Returns 0, CHAT_ERR_INVALID (empty or bad
 * UTF-8) or CHAT_ERR_TOOBIG (over max). */
int valid_text(const char *s, size_t len, size_t max);

/* 1..64 printable ASCII characters (0x21..0x7e). */
bool valid_cid(const char *s);

/* Conversation key: a user name ("bob") or '#' + room name ("#lobby").
 * Returns 0 and sets *is_room and the lower-cased name, or CHAT_ERR_INVALID. */
int valid_conv(const char *conv, bool *is_room, char lname[NAME_MAX_LEN + 1]);

#endif

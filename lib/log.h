/* log — one logging function. Every line is "key=value" pairs:
 *   ts=2026-11-22T03:22:43.123Z lvl=info prog=chat-api mod=send msg...
 * lib/ never logs on its own behalf except through this module, and only
 * where the error is handled (logged once, with context). Thread-safe:
 * each line is written with a single write(2). */
#ifndef SB_LOG_H
#define SB_LOG_H
#include <stddef.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* prog is kept by pointer (pass a string literal). Output goes to stderr
 * until log_open() names a file. */
void log_init(const char *prog, enum log_level level);
/* Parses "error", "warn", "info", "debug"; returns -1 if unknown. */
int log_level_parse(const char *s);
void log_set_level(enum log_level level);
/* Appends to path (O_APPEND); called again (e.g. on SIGHUP) it reopens.
 * Returns 0 or CHAT_ERR_IO. NULL or "" means stderr. */
int log_open(const char *path);

/* fmt should produce key=value pairs; values with spaces are quoted by the
 * caller (use log_quote for untrusted strings). */
void log_msg(enum log_level level, const char *mod, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes s into buf as a double-quoted, escaped value (control characters
 * and quotes escaped, truncated to fit). Returns buf. */
char *log_quote(char *buf, size_t size, const char *s);

#define log_error(mod, ...) log_msg(LOG_LVL_ERROR, mod, __VA_ARGS__)
#define log_warn(mod, ...) log_msg(LOG_LVL_WARN, mod, __VA_ARGS__)
#define log_info(mod, ...) log_msg(LOG_LVL_INFO, mod, __VA_ARGS__)
#define log_debug(mod, ...) log_msg(LOG_LVL_DEBUG, mod, __VA_ARGS__)

#endif

/* rdb — synchronous Redis access for the request/response programs
 * (chat-auth, chat-api, chatctl): one connection per thread, connect and
 * command timeouts from the config, transparent reconnect on the next call
 * after a failure, and EVALSHA of the embedded scripts with a reload on
 * NOSCRIPT (a restarted Redis has an empty script cache).
 *
 * Every call returns 0 or a negative CHAT_ERR_*:
 *   CHAT_ERR_UNAVAILABLE  Redis unreachable or timed out; the connection is
 *                         dropped and the next call reconnects.
 *   CHAT_ERR_INTERNAL     Redis answered with an error reply (a bug).
 * Failures are logged here, once, so callers only map the code. */
#ifndef SB_RDB_H
#define SB_RDB_H
#include <hiredis/hiredis.h>
#include <stddef.h>
#include "config.h"
#include "script.h"

#define RDB_MAX_SCRIPT_ARGS SCRIPT_MAX_ARGS

struct rdb {
    redisContext *ctx;               /* NULL while disconnected */
    const struct chat_config *cfg;   /* borrowed; must outlive the rdb */
    int pending;                     /* pipelined replies not yet read */
};

/* No I/O: the first command connects. */
void rdb_init(struct rdb *db, const struct chat_config *cfg);
/* Closes the connection; db can be used again (it reconnects). */
void rdb_close(struct rdb *db);

/* One command (hiredis format string). On 0, *out is a reply the caller
 * frees with freeReplyObject; it is never an error reply. */
int rdb_cmd(struct rdb *db, redisReply **out, const char *fmt, ...);
int rdb_argv(struct rdb *db, redisReply **out, int argc, const char **argv,
             const size_t *lens);

/* EVALSHA of script id with nkeys keys followed by nargs arguments, all
 * NUL-terminated strings in argv (nkeys + nargs <= RDB_MAX_SCRIPT_ARGS).
 * On 0, *out is the script's reply (caller frees). */
int rdb_script(struct rdb *db, redisReply **out, enum script_id id,
               int nkeys, int nargs, const char *const *argv);

/* Argument lists for rdb_script: strings are borrowed (must outlive the
 * call), integers are formatted into the struct. More than
 * RDB_MAX_SCRIPT_ARGS arguments is a programming error and aborts. */
struct rdb_args {
    const char *argv[RDB_MAX_SCRIPT_ARGS];
    char num[RDB_MAX_SCRIPT_ARGS][24];
    int n;
};
void rdb_args_init(struct rdb_args *a);
void rdb_args_str(struct rdb_args *a, const char *s);
void rdb_args_int(struct rdb_args *a, long long v);

/* Pipelining: queue commands with rdb_append, then read exactly as many
 * replies with rdb_next, in order. After a failure every later rdb_next of
 * the batch fails too, so a caller may simply read all and check each. */
int rdb_append(struct rdb *db, const char *fmt, ...);
int rdb_next(struct rdb *db, redisReply **out);

/* Helpers for the reply shapes the scripts return. */
long long rdb_int(const redisReply *r);               /* integer or numeric string; 0 otherwise */
const redisReply *rdb_elem(const redisReply *r, size_t i); /* array element or NULL */

#endif

/* fcgisrv — the shared main of the request/response FastCGI programs
 * (chat-auth, chat-api): options, config, logging, a pool of threads each
 * with its own Redis connection taking requests with FCGX_Accept_r, the
 * Origin check, and a clean exit on SIGTERM (libfcgi's own handler would
 * otherwise leave a blocked accept running). */
#ifndef SB_FCGISRV_H
#define SB_FCGISRV_H
#include "rdb.h"
#include "req.h"

/* Handles one request that passed the Origin check. Must reply (a request
 * left without a reply gets a 500). Called from worker threads at once:
 * arg must be safe to share. */
typedef void (*fcgisrv_handler_fn)(struct req *rq, struct rdb *db, void *arg);

struct fcgisrv_prog {
    const char *name;        /* program name for --help and logs */
    const char *summary;     /* one line for --help */
    fcgisrv_handler_fn handler;
    void *arg;
};

/* Parses argv (-c FILE, -l ADDR, -h/--help), loads the config and serves
 * until SIGTERM/SIGINT. SIGHUP reopens the log file. Returns the process
 * exit status. */
int fcgisrv_main(int argc, char **argv, const struct fcgisrv_prog *prog);

/* The option parsing of every program: -c FILE, -l ADDR, -h/--help.
 * Returns -1 to go on (conf/listen set, NULL if not given), else the exit
 * status (help printed, or a usage error). */
int fcgisrv_args(int argc, char **argv, const struct fcgisrv_prog *prog, const char **conf,
                 const char **listen_addr);

/* Opens the FastCGI listening socket: listen_addr, else the config's
 * `listen`, else 0 (inherited from the front server). -1 on failure. */
int fcgisrv_listen(const struct chat_config *cfg, const char *listen_addr);

/* The same option parsing and config loading for other programs (chatctl):
 * returns 0 and fills cfg, or prints the reason and returns 2. */
int fcgisrv_load_config(const char *prog, const char *path, struct chat_config *cfg);

#endif

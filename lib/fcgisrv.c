#include "fcgisrv.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "log.h"
#include "xmalloc.h"

/* What every worker shares: read-only after start, except the accept
 * lock (some libfcgi builds are not safe with concurrent accepts). */
struct fcgisrv {
    const struct fcgisrv_prog *prog;
    const struct chat_config *cfg;
    int sock;
    pthread_mutex_t accept_lock;
};

int fcgisrv_load_config(const char *prog, const char *path, struct chat_config *cfg)
{
    char err[512];
    int lvl;

    config_defaults(cfg);
    if (!path)
        path = config_default_path();
    if (config_load(cfg, path, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return 2;
    }
    lvl = log_level_parse(cfg->log_level);
    log_init(prog, lvl < 0 ? LOG_LVL_INFO : (enum log_level)lvl);
    if (log_open(cfg->log_file) < 0) {
        fprintf(stderr, "%s: cannot open log file %s\n", prog, cfg->log_file);
        return 2;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "%s: libsodium failed to initialise\n", prog);
        return 2;
    }
    return 0;
}

static void fcgisrv_serve_one(struct fcgisrv *srv, FCGX_Request *fx, struct rdb *db)
{
    struct req rq;
    long long t0 = clock_mono_ms();

    req_init(&rq, fx, srv->cfg);
    if (!req_origin_ok(&rq))
        req_reply_error(&rq, CHAT_ERR_FORBIDDEN, "origin not allowed");
    else
        srv->prog->handler(&rq, db, srv->prog->arg);
    if (!rq.status) {
        log_error("fcgisrv", "event=no_reply method=%s path=%s", rq.method, rq.path);
        req_reply_error(&rq, CHAT_ERR_INTERNAL, NULL);
    }
    log_debug("fcgisrv", "event=request method=%s path=%s status=%d ms=%lld", rq.method, rq.path,
              rq.status, clock_mono_ms() - t0);
    req_free(&rq);
}

static void *fcgisrv_worker(void *arg)
{
    struct fcgisrv *srv = arg;
    FCGX_Request fx;
    struct rdb db;

    rdb_init(&db, srv->cfg);
    if (FCGX_InitRequest(&fx, srv->sock, 0) != 0) {
        log_error("fcgisrv", "event=init_request_failed");
        return NULL;
    }
    for (;;) {
        int rc;
        pthread_mutex_lock(&srv->accept_lock);
        rc = FCGX_Accept_r(&fx);
        pthread_mutex_unlock(&srv->accept_lock);
        if (rc < 0) {
            log_error("fcgisrv", "event=accept_failed rc=%d", rc);
            break;
        }
        fcgisrv_serve_one(srv, &fx, &db);
        FCGX_Finish_r(&fx);
    }
    rdb_close(&db);
    return NULL;
}

static void fcgisrv_usage(const struct fcgisrv_prog *prog, FILE *f)
{
    fprintf(f,
            "Usage: %s [-c FILE] [-l ADDR]\n"
            "%s\n\n"
            "  -c FILE   configuration file (default: $SWITCHBOARD_CONF or %s)\n"
            "  -l ADDR   listen on ADDR (a unix socket path or :PORT) instead of the\n"
            "            socket inherited on fd 0 from the front server\n"
            "  -h, --help  show this help\n",
            prog->name, prog->summary, SB_SYSCONFDIR "/switchboard/switchboard.conf");
}

int fcgisrv_args(int argc, char **argv, const struct fcgisrv_prog *prog, const char **conf,
                 const char **listen_addr)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int opt;

    *conf = NULL;
    *listen_addr = NULL;
    while ((opt = getopt_long(argc, argv, "c:l:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': *conf = optarg; break;
        case 'l': *listen_addr = optarg; break;
        case 'h': fcgisrv_usage(prog, stdout); return 0;
        default: fcgisrv_usage(prog, stderr); return 2;
        }
    }
    if (optind < argc) {
        fcgisrv_usage(prog, stderr);
        return 2;
    }
    return -1;
}

int fcgisrv_listen(const struct chat_config *cfg, const char *listen_addr)
{
    int sock;

    if (!listen_addr && cfg->listen[0])
        listen_addr = cfg->listen;
    if (!listen_addr)
        return 0;
    sock = FCGX_OpenSocket(listen_addr, cfg->backlog);
    if (sock < 0)
        log_error("fcgisrv", "event=listen_failed addr=%s err=\"%s\"", listen_addr, strerror(errno));
    return sock;
}

int fcgisrv_main(int argc, char **argv, const struct fcgisrv_prog *prog)
{
    struct chat_config cfg;
    struct fcgisrv srv;
    const char *conf = NULL, *listen_addr = NULL;
    pthread_t *threads = NULL;
    sigset_t sigs;
    int rc, started = 0;

    memset(&cfg, 0, sizeof(cfg));
    if ((rc = fcgisrv_args(argc, argv, prog, &conf, &listen_addr)) >= 0)
        return rc;
    if ((rc = fcgisrv_load_config(prog->name, conf, &cfg)) != 0)
        goto out;
    rc = 1;

    /* Block the signals in every thread; this thread takes them with
     * sigwait, so no handler runs in the middle of a request. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    if (FCGX_Init() != 0) {
        log_error("fcgisrv", "event=fcgx_init_failed");
        goto out;
    }
    memset(&srv, 0, sizeof(srv));
    srv.prog = prog;
    srv.cfg = &cfg;
    pthread_mutex_init(&srv.accept_lock, NULL);
    if ((srv.sock = fcgisrv_listen(&cfg, listen_addr)) < 0)
        goto out;
    threads = xcalloc((size_t)cfg.threads, sizeof(*threads));
    for (int i = 0; i < cfg.threads; i++) {
        if (pthread_create(&threads[i], NULL, fcgisrv_worker, &srv) != 0) {
            log_error("fcgisrv", "event=thread_create_failed");
            goto out;
        }
        started++;
    }
    log_info("fcgisrv", "event=start threads=%d", cfg.threads);
    for (;;) {
        int sig = 0;
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            log_open(cfg.log_file);
            log_info("fcgisrv", "event=reopen_log");
        } else if (sig == SIGTERM || sig == SIGINT) {
            log_info("fcgisrv", "event=stop signal=%d", sig);
            break;
        }
    }
    rc = 0;
out:
    /* Workers may be blocked in accept or mid-request; the process exits
     * under them (their Redis connections close with it). exit(), not
     * _exit(), so the leak checker of a sanitizer build still runs. */
    if (started)
        exit(rc);
    free(threads);
    config_free(&cfg);
    return rc;
}

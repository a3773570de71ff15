/* config — every setting of every program, read from one INI file
 * (inih does the parsing) and validated once at startup against a table of
 * {section, name, type, min, max, default}. */
#ifndef SB_CONFIG_H
#define SB_CONFIG_H
#include <stddef.h>

#define CONFIG_MAX_ORIGINS 16
#define CONFIG_MAX_TYPES 32

struct chat_config {
    /* [redis] */
    char *redis_host;          /* host, default "127.0.0.1" */
    int redis_port;            /* 1..65535, default 6379 */
    char *redis_socket;        /* unix socket path; "" = use host/port */
    int redis_db;              /* 0..15, default 0 */
    char *redis_password;      /* "" = none */
    int redis_timeout_ms;      /* connect and command timeout, 10..10000, default 500 */
    char *key_prefix;          /* default "sb:", 0..32 chars of [A-Za-z0-9_:.-] */

    /* [server] */
    int threads;               /* FastCGI worker threads, 1..256, default 4 */
    char *listen;              /* "" = inherited fd 0 (spawned by the front
                                  server); else a unix path or ":port" */
    int backlog;               /* listen backlog when listen is set, 1..65535, default 1024 */
    char *log_level;           /* error|warn|info|debug, default "info" */
    char *log_file;            /* "" = stderr */

    /* [limits] */
    int max_body;              /* bytes of a request body (not uploads), 256..16777216, default 65536 */
    int max_text;              /* bytes of message text, 1..65536, default 4096 */
    int history_cap;           /* events kept per DM pair / room, 10..10000000, default 10000 */
    int inbox_cap;             /* events kept per user inbox, 10..10000000, default 1000 */

    /* [auth] */
    int session_ttl;           /* seconds, 60..31536000, default 2592000 */
    int pw_opslimit;           /* Argon2id ops, 1..20, default 2 */
    int pw_memlimit_kib;       /* Argon2id memory KiB, 8..1048576, default 65536 */
    int login_max_user;        /* failed logins per user per window, 1..100000, default 10 */
    int login_max_addr;        /* login attempts per address per window, 1..100000, default 30 */
    int login_window;          /* seconds, 1..86400, default 300 */
    char *allowed_origins;     /* raw value: space- or comma-separated
                                  origins; "" = the request's own host */
    char *origins[CONFIG_MAX_ORIGINS]; /* parsed from allowed_origins */
    int n_origins;
    int secure_cookies;        /* 0 = only when HTTPS=on, 1 = always; default 0 */

    /* [send] */
    int send_max;              /* messages per user per window, 1..1000000, default 60 */
    int send_window;           /* seconds, 1..86400, default 10 */
    int cid_ttl;               /* seconds a cid is remembered, 60..604800, default 86400 */

    /* [poll] — chat-poll and wsgate */
    int poll_timeout_default;  /* seconds, 1..55, default 25 */
    int poll_timeout_max;      /* seconds, 1..3600, default 55 */
    int sse_heartbeat;         /* seconds, 1..300, default 15 */
    int sse_retry_ms;          /* retry: hint, 100..600000, default 3000 */
    int sse_stall;             /* seconds a backed-up stream may not drain, 1..3600, default 60 */
    int presence_grace;        /* seconds before offline, 0..3600, default 10 */
    int sweep_interval;        /* seconds, 1..3600, default 30 */

    /* [ws] — wsgate */
    char *ws_listen;           /* host:port, default "127.0.0.1:8081" */
    char *ws_admin;            /* host:port for /healthz and /metrics, "" = off */
    int ws_workers;            /* processes sharing the port, 1..64, default 1 */
    int ws_max_message;        /* bytes of one client message, 64..16777216, default 65536 */
    int ws_max_output;         /* unsent bytes before 4008, 4096..1073741824, default 1048576 */
    int ws_ping_interval;      /* seconds, 1..3600, default 25 */
    int ws_handshake_timeout;  /* seconds, 1..60, default 5 */
    int ws_max_header;         /* bytes of the upgrade request, 512..65536, default 8192 */
    int ws_typing_interval_ms; /* least time between typing ops, 0..60000, default 1000 */
    char *ws_url;              /* WebSocket URL handed to clients by /me; "" = /ws */

    /* [upload] */
    char *media_dir;           /* where uploads are stored, default "var/media" */
    int upload_max;            /* bytes, 1..1073741824, default 10485760 */
    char *upload_types;        /* raw value: space/comma list of MIME types */
    char *types[CONFIG_MAX_TYPES]; /* parsed from upload_types */
    int n_types;
};

/* Fills cfg with the defaults above. cfg must be zeroed or freed before. */
void config_defaults(struct chat_config *cfg);

/* Loads path over the defaults already in cfg (call config_defaults
 * first). Unknown keys, unparsable numbers and out-of-range values are
 * errors; err gets "FILE:LINE: [section] key: reason". Returns 0 or
 * CHAT_ERR_INVALID (bad content) or CHAT_ERR_IO (cannot open). A section
 * may appear more than once; the last value of a key wins, so an override
 * file can be appended to the shipped one. */
int config_load(struct chat_config *cfg, const char *path, char *err, size_t errlen);

/* The path programs use when -c is not given: $SWITCHBOARD_CONF, else
 * SB_SYSCONFDIR "/switchboard/switchboard.conf". Static string. */
const char *config_default_path(void);

/* Frees the strings cfg owns; cfg may be half-built. */
void config_free(struct chat_config *cfg);

#endif

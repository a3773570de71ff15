/* loadpoll — load tool for chat-poll through the front server.
 *
 *   loadpoll run [options]        N long-poll or SSE clients and/or a
 *                                 publisher; prints one JSON result line
 *   loadpoll stat -l LABEL NAME=PID...   RSS and CPU of processes (lp_proc.h)
 *   loadpoll report FILE...       merges result and stat lines (lp_report.h)
 *
 * One epoll loop, non-blocking sockets, HTTP/1.1 keep-alive. A long-poll
 * client re-polls with the cursor of each answer on the same connection;
 * an SSE client reads one stream and resumes with Last-Event-ID if it
 * ends. The publisher POSTs /api/send at a fixed rate with
 * "b=<tag> t=<monotonic ns> seq=<n>" as the text; every client counts
 * each (chan,id) once (the rest are duplicates), the copies of each seq
 * (loss = members x sent - copies) and the latency (receive time minus
 * the embedded send time; CLOCK_MONOTONIC is one clock for every process
 * of the machine). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lp_hist.h"
#include "lp_proc.h"
#include "lp_report.h"

#define LP_MAX_HEAD 65536
#define LP_MAX_BODY (16 * 1024 * 1024)
#define LP_RETRY_NS 1000000000LL
#define LP_MAX_STATUS 600

enum lp_role { LP_POLL, LP_SSE, LP_PUB, LP_WS };
enum lp_state { LP_IDLE, LP_CONNECTING, LP_SENDING, LP_HEAD, LP_BODY, LP_READY, LP_DEAD, LP_WSOPEN };
enum lp_chunk { LP_CH_SIZE, LP_CH_DATA, LP_CH_CRLF, LP_CH_TRAILER };

struct lp_buf {
    char *p;
    size_t len, cap;
};

/* Ids of one channel seen by one client: a bitmap from the first id. */
struct lp_chan {
    char *name;
    long long base, max;
    unsigned char *bits;
    size_t nbits;
};

struct lp_client {
    int fd, role, state;
    unsigned idx;
    const char *token;
    char *cursor;
    char *req;
    size_t req_len, req_off;
    struct lp_buf in, body, sse_data;
    struct lp_buf out;        /* WebSocket: frames not yet written */
    int frag_op;              /* WebSocket: opcode of a fragmented message */
    int status, chunked, close_after, chstate, fresh, parked, queued;
    long long clen, chunk_left;
    long long retry_at;
    unsigned long answers;    /* responses on this connection */
    struct lp_chan *chans;
    int nchans;
    long long pub_seq;        /* publisher: seq in flight */
};

struct lp {
    /* options */
    struct sockaddr_in dst;
    char host[64];
    int mode, nclients, setup_max, poll_timeout, quiet_ms;
    unsigned tok_off;
    char **tokens;
    unsigned ntokens;
    struct in_addr *srcs;
    unsigned nsrcs;
    const char *ready_file, *tag, *room, *pub_token, *ws_path;
    double rate, pub_secs, run_secs, ready_timeout;
    int pub_conns;
    /* state */
    int ep;
    struct lp_client *c;       /* nclients clients, then pub_conns publishers */
    int ntotal;
    unsigned next_open;
    unsigned *retryq;
    unsigned nretry;
    long long start_ns, last_event_ns, ready_ns;
    int ready_written;
    /* publisher */
    long long pub_total, pub_next, pub_pending, pub_ok, pub_err, pub_answered;
    long long pub_t0, pub_first_ns, pub_last_ns;
    /* counters */
    long open_now, parked_now, max_parked, fresh_now;
    unsigned long connects, connect_errors, reconnects, drops, answers, events, msgs, dups, reorders;
    unsigned long other, other_late, foreign, heartbeats, dead, bytes, parse_errors;
    unsigned long ws_pings, ws_closes, ws_hellos, ws_upgrades;
    unsigned long ws_close_codes[8];   /* 1000 1001 1002 1008 1011 4001 4008 other */
    uint64_t rnd;
    unsigned long status[LP_MAX_STATUS];
    long long first_recv_ns, last_recv_ns;
    long *copies;
    long long ncopies;
    struct lp_hist hist;
};

static volatile sig_atomic_t lp_stop;

static long long lp_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *lp_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (!q) {
        fprintf(stderr, "loadpoll: out of memory (%zu bytes)\n", n);
        abort();
    }
    return q;
}

static void lp_buf_reserve(struct lp_buf *b, size_t more)
{
    size_t cap = b->cap ? b->cap : 1024;

    if (b->len + more + 1 <= b->cap)
        return;
    while (cap < b->len + more + 1)
        cap *= 2;
    b->p = lp_xrealloc(b->p, cap);
    b->cap = cap;
}

static void lp_buf_add(struct lp_buf *b, const char *d, size_t n)
{
    lp_buf_reserve(b, n);
    memcpy(b->p + b->len, d, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void lp_buf_consume(struct lp_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->p, b->p + n, b->len - n);
        b->len -= n;
    }
    if (b->p)
        b->p[b->len] = '\0';
}

/* Gives back a large buffer once empty, so parked clients stay small. */
static void lp_buf_shrink(struct lp_buf *b)
{
    if (b->len == 0 && b->cap > 16384) {
        free(b->p);
        b->p = NULL;
        b->cap = 0;
    }
}

/* ------------------------------------------------------------ events */

/* 0: a new id; 1: seen before on this client (a duplicate). Counts ids
 * that come below the highest one of their channel as reorders. */
static int lp_seen(struct lp *lp, struct lp_client *c, const char *chan, long long id)
{
    struct lp_chan *ch = NULL;
    size_t off;

    for (int i = 0; i < c->nchans; i++)
        if (strcmp(c->chans[i].name, chan) == 0)
            ch = &c->chans[i];
    if (!ch) {
        c->chans = lp_xrealloc(c->chans, sizeof(*c->chans) * (size_t)(c->nchans + 1));
        ch = &c->chans[c->nchans++];
        memset(ch, 0, sizeof(*ch));
        ch->name = strdup(chan);
        ch->base = id;
        ch->max = id - 1;
    }
    if (id < ch->base) {      /* before the first id seen: cannot tell */
        lp->reorders++;
        return 0;
    }
    off = (size_t)(id - ch->base);
    if (off >= ch->nbits) {
        size_t nb = ch->nbits ? ch->nbits : 512;

        while (nb <= off)
            nb *= 2;
        ch->bits = lp_xrealloc(ch->bits, nb / 8);
        memset(ch->bits + ch->nbits / 8, 0, (nb - ch->nbits) / 8);
        ch->nbits = nb;
    }
    if (ch->bits[off / 8] & (1u << (off % 8)))
        return 1;
    ch->bits[off / 8] |= (unsigned char)(1u << (off % 8));
    if (id < ch->max)
        lp->reorders++;
    else
        ch->max = id;
    return 0;
}

/* One event: chan/id (has_id 0 if it has none), whether its type is
 * "msg", and its text (NUL-terminated, or NULL). */
static void lp_on_event_fields(struct lp *lp, struct lp_client *c, const char *chan, long long id, int has_id,
                               int is_msg, const char *text, long long now)
{
    size_t taglen = strlen(lp->tag);
    long long t, seq;

    lp->events++;
    if (chan && has_id && lp_seen(lp, c, chan, id)) {
        lp->dups++;
        return;
    }
    if (!is_msg || !text || strncmp(text, "b=", 2) != 0) {
        lp->other++;
        lp->other_late += lp->ready_ns != 0;   /* while measuring */
        lp->last_event_ns = now;
        return;
    }
    if (strncmp(text + 2, lp->tag, taglen) != 0 || text[2 + taglen] != ' ' ||
        sscanf(text + 3 + taglen, "t=%lld seq=%lld", &t, &seq) != 2 || seq < 0 || seq > 100000000) {
        lp->foreign++;        /* a bench message of another run */
        lp->last_event_ns = now;
        return;
    }
    lp->msgs++;
    if (seq >= lp->ncopies) {
        long long n = lp->ncopies ? lp->ncopies : 1024;

        while (n <= seq)
            n *= 2;
        lp->copies = lp_xrealloc(lp->copies, sizeof(long) * (size_t)n);
        memset(lp->copies + lp->ncopies, 0, sizeof(long) * (size_t)(n - lp->ncopies));
        lp->ncopies = n;
    }
    lp->copies[seq]++;
    lp_hist_add(&lp->hist, now > t ? (uint64_t)(now - t) / 1000 : 0);
    if (!lp->first_recv_ns || now < lp->first_recv_ns)
        lp->first_recv_ns = now;
    if (now > lp->last_recv_ns)
        lp->last_recv_ns = now;
}

static void lp_on_event(struct lp *lp, struct lp_client *c, const cJSON *ev, long long now)
{
    const cJSON *chan = cJSON_GetObjectItemCaseSensitive(ev, "chan");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(ev, "id");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(ev, "type");
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(ev, "text");

    lp_on_event_fields(lp, c, cJSON_IsString(chan) ? chan->valuestring : NULL,
                       cJSON_IsNumber(id) ? (long long)id->valuedouble : 0, cJSON_IsNumber(id),
                       cJSON_IsString(type) && strcmp(type->valuestring, "msg") == 0,
                       cJSON_IsString(text) ? text->valuestring : NULL, now);
}

/* ------------------------------------------------------------ connections */

static void lp_set_parked(struct lp *lp, struct lp_client *c, int on)
{
    if (c->parked == on)
        return;
    c->parked = on;
    lp->parked_now += on ? 1 : -1;
    if (lp->parked_now > lp->max_parked)
        lp->max_parked = lp->parked_now;
}

static void lp_set_fresh(struct lp *lp, struct lp_client *c, int on)
{
    if (c->fresh == on)
        return;
    c->fresh = on;
    lp->fresh_now += on ? 1 : -1;
}

static void lp_watch(struct lp *lp, struct lp_client *c, unsigned events)
{
    struct epoll_event ev = { .events = events, .data.ptr = c };

    epoll_ctl(lp->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void lp_close(struct lp *lp, struct lp_client *c)
{
    if (c->fd >= 0) {
        close(c->fd);   /* also leaves the epoll set */
        c->fd = -1;
        lp->open_now--;
    }
    lp_set_parked(lp, c, 0);
    lp_set_fresh(lp, c, 0);
    c->in.len = 0;
    c->body.len = 0;
    c->sse_data.len = 0;
    free(c->out.p);
    c->out.p = NULL;
    c->out.len = c->out.cap = 0;
    lp_buf_shrink(&c->in);
    lp_buf_shrink(&c->body);
    c->state = LP_IDLE;
}

/* Closes and schedules a new connection after delay_ns. */
static void lp_retry(struct lp *lp, struct lp_client *c, long long delay_ns)
{
    lp_close(lp, c);
    c->retry_at = lp_now() + delay_ns;
    if (!c->queued) {
        c->queued = 1;
        lp->retryq[lp->nretry++] = c->idx;
    }
}

/* Formats the whole request into c->req. */
static void lp_build_request(struct lp *lp, struct lp_client *c)
{
    char first[1024], body[256];
    int bn = 0;
    size_t total;

    if (c->role == LP_POLL) {
        snprintf(first, sizeof(first), "GET /api/poll?timeout=%d%s%s HTTP/1.1\r\n", lp->poll_timeout,
                 c->cursor ? "&cursor=" : "", c->cursor ? c->cursor : "");
    } else if (c->role == LP_WS) {
        char enc[600];
        size_t k = 0;

        /* The cursor is opaque: percent-encode all but unreserved bytes. */
        for (const unsigned char *q = (const unsigned char *)(c->cursor ? c->cursor : ""); *q && k + 4 < sizeof(enc); q++) {
            if ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') || strchr("-._~", *q))
                enc[k++] = (char)*q;
            else
                k += (size_t)snprintf(enc + k, sizeof(enc) - k, "%%%02X", *q);
        }
        enc[k] = '\0';
        snprintf(first, sizeof(first),
                 "GET %s%s%s HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
                 lp->ws_path, k ? "?cursor=" : "", enc);
    } else if (c->role == LP_SSE) {
        snprintf(first, sizeof(first), "GET /api/stream HTTP/1.1\r\nAccept: text/event-stream\r\n%s%s%s",
                 c->cursor ? "Last-Event-ID: " : "", c->cursor ? c->cursor : "", c->cursor ? "\r\n" : "");
    } else {
        bn = snprintf(body, sizeof(body), "{\"room\":\"%s\",\"text\":\"b=%s t=%lld seq=%lld\",\"cid\":\"%s-%lld\"}",
                      lp->room, lp->tag, lp_now(), c->pub_seq, lp->tag, c->pub_seq);
        snprintf(first, sizeof(first),
                 "POST /api/send HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", bn);
    }
    total = (size_t)snprintf(NULL, 0, "%sHost: %s\r\nAuthorization: Bearer %s\r\n\r\n%s", first, lp->host,
                             c->token, bn ? body : "");
    c->req = lp_xrealloc(c->req, total + 1);
    snprintf(c->req, total + 1, "%sHost: %s\r\nAuthorization: Bearer %s\r\n\r\n%s", first, lp->host, c->token,
             bn ? body : "");
    c->req_len = total;
    c->req_off = 0;
}

static void lp_send(struct lp *lp, struct lp_client *c)
{
    while (c->req_off < c->req_len) {
        ssize_t n = write(c->fd, c->req + c->req_off, c->req_len - c->req_off);

        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                lp_watch(lp, c, EPOLLIN | EPOLLOUT);
                return;
            }
            lp->drops++;
            lp_retry(lp, c, LP_RETRY_NS / 10);
            return;
        }
        c->req_off += (size_t)n;
    }
    c->state = LP_HEAD;
    c->status = 0;
    lp_watch(lp, c, EPOLLIN);
}

static void lp_start_request(struct lp *lp, struct lp_client *c)
{
    lp_build_request(lp, c);
    c->state = LP_SENDING;
    lp_send(lp, c);
}

static void lp_open(struct lp *lp, struct lp_client *c)
{
    struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
    int fd, one = 1;

    c->queued = 0;
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        lp->connect_errors++;
        lp_retry(lp, c, LP_RETRY_NS);
        return;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (lp->nsrcs) {
        struct sockaddr_in src = { .sin_family = AF_INET, .sin_addr = lp->srcs[c->idx % lp->nsrcs] };

        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
            close(fd);
            lp->connect_errors++;
            lp_retry(lp, c, LP_RETRY_NS);
            return;
        }
    }
    if (connect(fd, (struct sockaddr *)&lp->dst, sizeof(lp->dst)) < 0 && errno != EINPROGRESS) {
        close(fd);
        lp->connect_errors++;
        lp_retry(lp, c, LP_RETRY_NS);
        return;
    }
    c->fd = fd;
    lp->open_now++;
    lp->connects++;
    c->answers = 0;
    c->state = LP_CONNECTING;
    if (c->role != LP_PUB)
        lp_set_fresh(lp, c, 1);
    epoll_ctl(lp->ep, EPOLL_CTL_ADD, fd, &ev);
}

/* ------------------------------------------------------------ responses */

static void lp_event_text(struct lp *lp, struct lp_client *c, const char *p, size_t n, long long now);

static void lp_sse_line(struct lp *lp, struct lp_client *c, char *line, long long now)
{
    if (line[0] == '\0') {              /* dispatch */
        if (c->sse_data.len) {
            lp_event_text(lp, c, c->sse_data.p, c->sse_data.len, now);
            c->sse_data.len = 0;
        }
        return;
    }
    if (line[0] == ':') {
        lp->heartbeats++;
    } else if (strncmp(line, "id:", 3) == 0) {
        const char *v = line[3] == ' ' ? line + 4 : line + 3;

        free(c->cursor);
        c->cursor = strdup(v);
        lp_set_parked(lp, c, 1);
        lp_set_fresh(lp, c, 0);
    } else if (strncmp(line, "data:", 5) == 0) {
        const char *v = line[5] == ' ' ? line + 6 : line + 5;

        if (c->sse_data.len)
            lp_buf_add(&c->sse_data, "\n", 1);
        lp_buf_add(&c->sse_data, v, strlen(v));
    }
}

static void lp_sse_feed(struct lp *lp, struct lp_client *c, long long now)
{
    size_t start = 0;
    char *nl;

    while ((nl = memchr(c->body.p + start, '\n', c->body.len - start))) {
        char *line = c->body.p + start;

        *nl = '\0';
        if (nl > line && nl[-1] == '\r')
            nl[-1] = '\0';
        lp_sse_line(lp, c, line, now);
        start = (size_t)(nl - c->body.p) + 1;
    }
    lp_buf_consume(&c->body, start);
}

/* Body data as it arrives: SSE is read line by line, the rest kept. */
static int lp_body_data(struct lp *lp, struct lp_client *c, const char *d, size_t n, long long now)
{
    if (c->body.len + n > LP_MAX_BODY)
        return -1;
    lp_buf_add(&c->body, d, n);
    if (c->role == LP_SSE && c->status == 200)
        lp_sse_feed(lp, c, now);
    return 0;
}

static void lp_poll_answer(struct lp *lp, struct lp_client *c, long long now)
{
    cJSON *root = cJSON_ParseWithLength(c->body.p ? c->body.p : "", c->body.len);
    const cJSON *evs = cJSON_GetObjectItemCaseSensitive(root, "events");
    const cJSON *cur = cJSON_GetObjectItemCaseSensitive(root, "cursor");
    const cJSON *ev;

    if (!root || !cJSON_IsArray(evs) || !cJSON_IsString(cur)) {
        lp->parse_errors++;
        cJSON_Delete(root);
        return;
    }
    cJSON_ArrayForEach(ev, evs)
        lp_on_event(lp, c, ev, now);
    free(c->cursor);
    c->cursor = strdup(cur->valuestring);
    cJSON_Delete(root);
}

/* A whole response has been read. */
static void lp_complete(struct lp *lp, struct lp_client *c, long long now)
{
    int status = c->status;

    lp->answers++;
    c->answers++;
    lp_set_parked(lp, c, 0);
    lp_set_fresh(lp, c, 0);
    if (status > 0 && status < LP_MAX_STATUS)
        lp->status[status]++;
    if (c->role == LP_PUB) {
        if (status == 200) {
            lp->pub_ok++;
            lp->pub_last_ns = now;
        } else {
            lp->pub_err++;
        }
        lp->pub_answered++;
        c->body.len = 0;
        if (c->close_after)
            lp_retry(lp, c, 0);
        else
            c->state = LP_READY;
        return;
    }
    if (status == 200 && c->role == LP_POLL)
        lp_poll_answer(lp, c, now);
    c->body.len = 0;
    lp_buf_shrink(&c->body);
    if (status == 400 || status == 401 || status == 403 || status == 404) {
        lp->dead++;                     /* will never work: stop */
        lp_close(lp, c);
        c->state = LP_DEAD;
        return;
    }
    if (status != 200 || c->role == LP_SSE) {
        if (c->role == LP_SSE && status == 200)
            lp->reconnects++;
        lp_retry(lp, c, status == 200 ? 0 : LP_RETRY_NS);
        return;
    }
    if (c->close_after) {
        lp->reconnects++;
        lp_close(lp, c);
        lp_open(lp, c);
        return;
    }
    lp_start_request(lp, c);
}

/* ------------------------------------------------------------ WebSocket */

/* Writes queued frames; watches EPOLLOUT while some remain. */
static void lp_ws_flush(struct lp *lp, struct lp_client *c)
{
    size_t off = 0;

    while (off < c->out.len) {
        ssize_t n = write(c->fd, c->out.p + off, c->out.len - off);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            lp_buf_consume(&c->out, c->out.len);
            return;   /* the read side sees the error */
        }
        off += (size_t)n;
    }
    lp_buf_consume(&c->out, off);
    lp_watch(lp, c, c->out.len ? EPOLLIN | EPOLLOUT : EPOLLIN);
    if (!c->out.len && c->out.cap > 4096) {
        free(c->out.p);
        c->out.p = NULL;
        c->out.cap = 0;
    }
}

/* Queues one masked frame (client frames must be masked) and flushes. */
static void lp_ws_send(struct lp *lp, struct lp_client *c, int op, const unsigned char *d, size_t n)
{
    unsigned char h[14];
    size_t hl = 2;
    uint32_t key;

    lp->rnd ^= lp->rnd << 13;
    lp->rnd ^= lp->rnd >> 7;
    lp->rnd ^= lp->rnd << 17;
    key = (uint32_t)lp->rnd;
    h[0] = (unsigned char)(0x80 | op);
    if (n < 126) {
        h[1] = (unsigned char)(0x80 | n);
    } else if (n < 65536) {
        h[1] = 0x80 | 126;
        h[2] = (unsigned char)(n >> 8);
        h[3] = (unsigned char)n;
        hl = 4;
    } else {
        h[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
        hl = 10;
    }
    memcpy(h + hl, &key, 4);
    hl += 4;
    lp_buf_add(&c->out, (const char *)h, hl);
    lp_buf_reserve(&c->out, n);
    for (size_t i = 0; i < n; i++)
        c->out.p[c->out.len + i] = (char)(d[i] ^ h[hl - 4 + (i & 3)]);
    c->out.len += n;
    c->out.p[c->out.len] = '\0';
    lp_ws_flush(lp, c);
}

/* The value of the first "key": in a JSON text: a string (no escapes
 * expected in the members read here) or a number. */
static const char *lp_jfind(const char *p, size_t n, const char *key, size_t *vlen, int *is_str)
{
    char pat[32];
    int pl = snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *v = memmem(p, n, pat, (size_t)pl), *e, *end = p + n;

    if (!v)
        return NULL;
    v += pl;
    while (v < end && *v == ' ')
        v++;
    if (v >= end)
        return NULL;
    if (*v == '"') {
        v++;
        for (e = v; e < end && *e != '"'; e++)
            if (*e == '\\' && e + 1 < end)
                e++;
        if (e >= end)
            return NULL;
        *is_str = 1;
    } else {
        for (e = v; e < end && *e != ',' && *e != '}'; e++)
            ;
        *is_str = 0;
    }
    *vlen = (size_t)(e - v);
    return v;
}

/* One event's JSON, read without a JSON parser (the same for every
 * transport, so their clients cost the same per event): type, chan, id
 * and text are all that is counted. */
static void lp_event_text(struct lp *lp, struct lp_client *c, const char *p, size_t n, long long now)
{
    size_t tl = 0, chl = 0, il = 0, xl = 0;
    int ts = 0, chs = 0, is = 0, xs = 0;
    const char *type = lp_jfind(p, n, "type", &tl, &ts);
    const char *chan, *id, *text;
    char chanb[128], textb[256];

    if (!type || !ts) {
        if (lp->parse_errors++ < 5)
            fprintf(stderr, "loadpoll: event without type: %.*s\n", (int)(n < 200 ? n : 200), p);
        return;
    }
    chan = lp_jfind(p, n, "chan", &chl, &chs);
    id = lp_jfind(p, n, "id", &il, &is);
    text = lp_jfind(p, n, "text", &xl, &xs);
    if (chan && chs) {
        snprintf(chanb, sizeof(chanb), "%.*s", (int)chl, chan);
        chan = chanb;
    } else {
        chan = NULL;
    }
    if (text && xs) {
        snprintf(textb, sizeof(textb), "%.*s", (int)xl, text);
        text = textb;
    } else {
        text = NULL;
    }
    lp_on_event_fields(lp, c, chan, id && !is ? strtoll(id, NULL, 10) : 0, id && !is,
                       tl == 3 && memcmp(type, "msg", 3) == 0, text, now);
}

/* One text message from the server: hello, an event (with "cursor"), pong. */
static void lp_ws_message(struct lp *lp, struct lp_client *c, const char *p, size_t n, long long now)
{
    size_t tl = 0, cl = 0;
    int ts = 0, cs = 0;
    const char *type = lp_jfind(p, n, "type", &tl, &ts);
    const char *cur = lp_jfind(p, n, "cursor", &cl, &cs);

    if (cur && cs) {
        c->cursor = lp_xrealloc(c->cursor, cl + 1);
        memcpy(c->cursor, cur, cl);
        c->cursor[cl] = '\0';
    }
    if (type && ts && tl == 5 && memcmp(type, "hello", 5) == 0) {
        lp->ws_hellos++;
        lp_set_parked(lp, c, 1);
        lp_set_fresh(lp, c, 0);
        return;
    }
    if (type && ts && tl == 4 && memcmp(type, "pong", 4) == 0)
        return;
    lp_event_text(lp, c, p, n, now);
}

static int lp_ws_close_slot(int code)
{
    static const int codes[] = { 1000, 1001, 1002, 1008, 1011, 4001, 4008 };

    for (int i = 0; i < 7; i++)
        if (codes[i] == code)
            return i;
    return 7;
}

static int lp_ws_bad(struct lp *lp, struct lp_client *c, const char *why, const unsigned char *h, size_t avail)
{
    static int shown;

    if (shown++ < 5) {
        fprintf(stderr, "loadpoll: client %u: websocket %s; next bytes:", c->idx, why);
        for (size_t i = 0; i < avail && i < 24; i++)
            fprintf(stderr, " %02x", h[i]);
        fprintf(stderr, "\n");
    }
    (void)lp;
    return -1;
}

/* Frames in c->in (server frames are not masked). -1 protocol error,
 * 1 the connection was closed (to be reopened), 0 more data needed. */
static int lp_ws_parse(struct lp *lp, struct lp_client *c, long long now)
{
    size_t off = 0;
    int r = 0;

    for (;;) {
        const unsigned char *h = (const unsigned char *)c->in.p + off;
        size_t avail = c->in.len - off, hl = 2;
        uint64_t len;
        int fin, op;

        if (avail < 2)
            break;
        fin = h[0] & 0x80;
        op = h[0] & 0x0f;
        if (h[1] & 0x80)
            return lp_ws_bad(lp, c, "masked server frame", h, avail);
        len = h[1] & 0x7f;
        if (len == 126) {
            if (avail < 4)
                break;
            len = (uint64_t)h[2] << 8 | h[3];
            hl = 4;
        } else if (len == 127) {
            if (avail < 10)
                break;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = len << 8 | h[2 + i];
            hl = 10;
        }
        if (len > LP_MAX_BODY)
            return lp_ws_bad(lp, c, "frame too long", h, avail);
        if (avail < hl + len)
            break;
        off += hl + (size_t)len;
        if (op == 0x9) {                 /* ping: pong with the payload */
            lp->ws_pings++;
            lp_ws_send(lp, c, 0xA, h + hl, (size_t)len);
        } else if (op == 0xA) {
            /* pong */
        } else if (op == 0x8) {          /* close: echo the code, reopen */
            int code = len >= 2 ? h[hl] << 8 | h[hl + 1] : 1005;

            lp->ws_closes++;
            lp->ws_close_codes[lp_ws_close_slot(code)]++;
            lp_ws_send(lp, c, 0x8, h + hl, len >= 2 ? 2 : 0);
            lp->reconnects++;
            lp_retry(lp, c, LP_RETRY_NS / 10);
            return 1;
        } else if (op == 0x1 || op == 0x2) {
            if (fin) {
                if (op == 0x1)
                    lp_ws_message(lp, c, (const char *)h + hl, (size_t)len, now);
            } else {
                c->frag_op = op;
                c->body.len = 0;
                lp_buf_add(&c->body, (const char *)h + hl, (size_t)len);
            }
        } else if (op == 0x0) {
            if (!c->frag_op)
                return lp_ws_bad(lp, c, "continuation without a start", h, avail);
            lp_buf_add(&c->body, (const char *)h + hl, (size_t)len);
            if (fin) {
                if (c->frag_op == 0x1)
                    lp_ws_message(lp, c, c->body.p, c->body.len, now);
                c->frag_op = 0;
                c->body.len = 0;
                lp_buf_shrink(&c->body);
            }
        } else {
            return lp_ws_bad(lp, c, "unknown opcode", h, avail);
        }
        if (c->fd < 0) {
            r = 1;
            break;
        }
    }
    if (c->fd >= 0)
        lp_buf_consume(&c->in, off);
    return r;
}

static int lp_parse_head(struct lp *lp, struct lp_client *c)
{
    char *end = memmem(c->in.p, c->in.len, "\r\n\r\n", 4), *line, *next;

    if (!end)
        return c->in.len > LP_MAX_HEAD ? -1 : 0;
    *end = '\0';
    if (strncmp(c->in.p, "HTTP/1.", 7) != 0 || strlen(c->in.p) < 12)
        return -1;
    c->status = atoi(c->in.p + 9);
    c->chunked = 0;
    c->clen = -1;
    c->close_after = c->in.p[7] == '0';
    for (line = strstr(c->in.p, "\r\n"); line; line = next) {
        line += 2;
        next = strstr(line, "\r\n");
        if (next)
            *next = '\0';
        if (strncasecmp(line, "Transfer-Encoding:", 18) == 0 && strcasestr(line + 18, "chunked"))
            c->chunked = 1;
        else if (strncasecmp(line, "Content-Length:", 15) == 0)
            c->clen = atoll(line + 15);
        else if (strncasecmp(line, "Connection:", 11) == 0 && strcasestr(line + 11, "close"))
            c->close_after = 1;
    }
    lp_buf_consume(&c->in, (size_t)(end - c->in.p) + 4);
    if (c->role == LP_WS && c->status == 101) {
        lp->ws_upgrades++;
        lp->status[101]++;
        c->answers++;
        c->state = LP_WSOPEN;
        c->frag_op = 0;
        return 1;
    }
    c->state = LP_BODY;
    c->chstate = LP_CH_SIZE;
    c->body.len = 0;
    if (c->role == LP_POLL && c->status == 200) {
        lp_set_parked(lp, c, 1);     /* headers go out when the poll parks */
        lp_set_fresh(lp, c, 0);
    }
    (void)lp;
    return 1;
}

/* Consumes c->in. Returns -1 on a protocol error, 1 at the end of the
 * connection's usefulness (it was closed or replaced), 0 otherwise. */
static int lp_parse(struct lp *lp, struct lp_client *c, long long now)
{
    for (;;) {
        if (c->state == LP_WSOPEN)
            return lp_ws_parse(lp, c, now);
        if (c->state == LP_HEAD) {
            int r = lp_parse_head(lp, c);

            if (r <= 0)
                return r;
            if (c->state == LP_WSOPEN)
                continue;
            if (!c->chunked && c->clen == 0) {
                lp_complete(lp, c, now);
                if (c->state != LP_HEAD && c->state != LP_READY)
                    return 1;
                continue;
            }
        }
        if (c->state != LP_BODY)
            return c->in.len ? -1 : 0;
        if (!c->chunked) {
            size_t take = c->in.len;

            if (c->clen >= 0 && (long long)take > c->clen - (long long)c->body.len)
                take = (size_t)(c->clen - (long long)c->body.len);
            if (take && lp_body_data(lp, c, c->in.p, take, now) < 0)
                return -1;
            lp_buf_consume(&c->in, take);
            if (c->clen >= 0 && (long long)c->body.len >= c->clen) {
                lp_complete(lp, c, now);
                if (c->state != LP_HEAD && c->state != LP_READY)
                    return 1;
                continue;
            }
            return 0;
        }
        switch (c->chstate) {
        case LP_CH_SIZE:
        case LP_CH_TRAILER: {
            char *nl = memmem(c->in.p, c->in.len, "\r\n", 2);

            if (!nl)
                return c->in.len > 1024 ? -1 : 0;
            if (c->chstate == LP_CH_SIZE) {
                c->chunk_left = strtoll(c->in.p, NULL, 16);
                c->chstate = c->chunk_left > 0 ? LP_CH_DATA : LP_CH_TRAILER;
                lp_buf_consume(&c->in, (size_t)(nl - c->in.p) + 2);
                continue;
            }
            if (nl == c->in.p) {        /* end of trailers: done */
                lp_buf_consume(&c->in, 2);
                lp_complete(lp, c, now);
                if (c->state != LP_HEAD && c->state != LP_READY)
                    return 1;
                continue;
            }
            lp_buf_consume(&c->in, (size_t)(nl - c->in.p) + 2);
            continue;
        }
        case LP_CH_DATA: {
            size_t take = c->in.len < (size_t)c->chunk_left ? c->in.len : (size_t)c->chunk_left;

            if (!take)
                return 0;
            if (lp_body_data(lp, c, c->in.p, take, now) < 0)
                return -1;
            lp_buf_consume(&c->in, take);
            c->chunk_left -= (long long)take;
            if (c->chunk_left == 0)
                c->chstate = LP_CH_CRLF;
            continue;
        }
        case LP_CH_CRLF:
            if (c->in.len < 2)
                return 0;
            lp_buf_consume(&c->in, 2);
            c->chstate = LP_CH_SIZE;
            continue;
        }
    }
}

static void lp_readable(struct lp *lp, struct lp_client *c)
{
    long long now = 0;
    int eof = 0;

    for (;;) {
        ssize_t n;

        lp_buf_reserve(&c->in, 16384);
        n = read(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len - 1);
        if (n > 0) {
            c->in.len += (size_t)n;
            c->in.p[c->in.len] = '\0';
            lp->bytes += (unsigned long)n;
            if ((size_t)n < 16384)
                break;
            continue;
        }
        if (n == 0)
            eof = 1;
        else if (errno == EINTR)
            continue;
        else if (errno != EAGAIN)
            eof = 1;
        break;
    }
    if (c->in.len) {
        int r;

        now = lp_now();
        r = lp_parse(lp, c, now);
        if (r < 0) {
            lp->parse_errors++;
            lp_retry(lp, c, LP_RETRY_NS);
            return;
        }
        if (r > 0)
            return;
        lp_buf_shrink(&c->in);
    }
    if (eof) {
        if (c->state == LP_BODY && !c->chunked && c->clen < 0) {
            lp_complete(lp, c, now ? now : lp_now());   /* body ended by close */
            if (c->fd < 0)
                return;
        }
        /* A keep-alive connection closed between requests is normal. */
        if (!(c->state == LP_READY || (c->state == LP_HEAD && c->answers > 0 && c->in.len == 0)))
            lp->drops++;
        if (c->state != LP_DEAD)
            lp_retry(lp, c, c->state == LP_HEAD || c->state == LP_READY ? 0 : LP_RETRY_NS / 10);
    }
}

static void lp_io(struct lp *lp, struct lp_client *c, unsigned events)
{
    if (c->fd < 0)
        return;
    if (c->state == LP_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);

        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            lp->connect_errors++;
            lp_retry(lp, c, LP_RETRY_NS);
            return;
        }
        if (c->role == LP_PUB) {
            c->state = LP_READY;
            lp_watch(lp, c, EPOLLIN);
            return;
        }
        lp_start_request(lp, c);
        return;
    }
    if (c->state == LP_WSOPEN && (events & EPOLLOUT) && c->out.len) {
        lp_ws_flush(lp, c);
        if (c->fd < 0)
            return;
    }
    if (c->state == LP_SENDING && (events & EPOLLOUT)) {
        lp_send(lp, c);
        if (c->fd < 0)
            return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        lp_readable(lp, c);
}

/* ------------------------------------------------------------ publisher */

static void lp_pub_dispatch(struct lp *lp)
{
    for (int i = lp->nclients; i < lp->ntotal && lp->pub_pending > 0; i++) {
        struct lp_client *c = &lp->c[i];

        if (c->state != LP_READY)
            continue;
        c->pub_seq = lp->pub_next - lp->pub_pending;
        lp->pub_pending--;
        if (!lp->pub_first_ns)
            lp->pub_first_ns = lp_now();
        lp_start_request(lp, c);
    }
}

static void lp_pub_tick(struct lp *lp, long long now)
{
    if (!lp->pub_total)
        return;
    if (!lp->pub_t0) {
        int ready = 0;

        for (int i = lp->nclients; i < lp->ntotal; i++)
            ready += lp->c[i].state == LP_READY;
        if (ready < lp->pub_conns && now - lp->start_ns < 2000000000LL)
            return;
        lp->pub_t0 = now;
    }
    while (lp->pub_next < lp->pub_total &&
           now >= lp->pub_t0 + (long long)((double)lp->pub_next * 1e9 / lp->rate)) {
        lp->pub_next++;
        lp->pub_pending++;
    }
    lp_pub_dispatch(lp);
}

static long long lp_pub_next_due(const struct lp *lp)
{
    if (!lp->pub_total || !lp->pub_t0 || lp->pub_next >= lp->pub_total)
        return 0;
    return lp->pub_t0 + (long long)((double)lp->pub_next * 1e9 / lp->rate);
}

/* ------------------------------------------------------------ main loop */

static void lp_check_ready(struct lp *lp, long long now)
{
    FILE *f;
    int all, timed_out;

    if (lp->ready_written || lp->nclients == 0)
        return;
    all = lp->parked_now >= lp->nclients - (long)lp->dead &&
          now - lp->last_event_ns >= (long long)lp->quiet_ms * 1000000LL;
    timed_out = lp->ready_timeout > 0 && now - lp->start_ns >= (long long)(lp->ready_timeout * 1e9);
    if (!all && !timed_out)
        return;
    lp->ready_written = 1;
    lp->ready_ns = now;
    if (!lp->ready_file)
        return;
    if ((f = fopen(lp->ready_file, "w"))) {
        fprintf(f, "%s parked=%ld of=%d dead=%lu\n", all ? "ready" : "timeout", lp->parked_now, lp->nclients,
                lp->dead);
        fclose(f);
    }
}

static void lp_open_more(struct lp *lp, long long now)
{
    unsigned keep = 0;

    while (lp->next_open < (unsigned)lp->nclients && lp->fresh_now < lp->setup_max)
        lp_open(lp, &lp->c[lp->next_open++]);
    for (unsigned i = 0; i < lp->nretry; i++) {
        struct lp_client *c = &lp->c[lp->retryq[i]];

        if (c->retry_at <= now && (c->role == LP_PUB || lp->fresh_now < lp->setup_max)) {
            c->queued = 0;
            lp_open(lp, c);
        } else {
            lp->retryq[keep++] = lp->retryq[i];
        }
    }
    lp->nretry = keep;
}

static void lp_on_signal(int sig)
{
    (void)sig;
    lp_stop = 1;
}

static void lp_write_result(struct lp *lp, long long end_ns)
{
    struct rusage ru;
    long long sent = lp->pub_next - lp->pub_pending;
    int first = 1;

    long open = 0;

    for (int i = 0; i < lp->nclients; i++)
        open += lp->c[i].fd >= 0;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"kind\":\"load\",\"pid\":%d,\"mode\":\"%s\",\"tag\":\"%s\",\"clients\":%d,"
           "\"open\":%ld,\"parked\":%ld,\"max_parked\":%ld,\"dead\":%lu,"
           "\"connects\":%lu,\"connect_errors\":%lu,\"reconnects\":%lu,\"drops\":%lu,\"answers\":%lu,"
           "\"events\":%lu,\"msgs\":%lu,\"dups\":%lu,\"reorders\":%lu,\"other\":%lu,\"other_late\":%lu,\"foreign\":%lu,"
           "\"heartbeats\":%lu,\"parse_errors\":%lu,\"bytes\":%lu,\"start_ns\":%lld,\"ready_ns\":%lld,"
           "\"end_ns\":%lld,\"first_recv_ns\":%lld,\"last_recv_ns\":%lld,\"cpu_s\":%.3f,\"maxrss_kib\":%ld,",
           getpid(), lp->mode == LP_SSE ? "sse" : lp->mode == LP_WS ? "ws" : "poll", lp->tag, lp->nclients, open,
           lp->parked_now, lp->max_parked, lp->dead, lp->connects, lp->connect_errors, lp->reconnects, lp->drops,
           lp->answers, lp->events, lp->msgs, lp->dups, lp->reorders, lp->other, lp->other_late, lp->foreign, lp->heartbeats,
           lp->parse_errors, lp->bytes, lp->start_ns, lp->ready_ns, end_ns, lp->first_recv_ns, lp->last_recv_ns,
           (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6,
           ru.ru_maxrss);
    printf("\"ws\":{\"upgrades\":%lu,\"hellos\":%lu,\"pings\":%lu,\"closes\":%lu,\"close_codes\":{"
           "\"1000\":%lu,\"1001\":%lu,\"1002\":%lu,\"1008\":%lu,\"1011\":%lu,\"4001\":%lu,\"4008\":%lu,\"other\":%lu}},",
           lp->ws_upgrades, lp->ws_hellos, lp->ws_pings, lp->ws_closes, lp->ws_close_codes[0], lp->ws_close_codes[1],
           lp->ws_close_codes[2], lp->ws_close_codes[3], lp->ws_close_codes[4], lp->ws_close_codes[5],
           lp->ws_close_codes[6], lp->ws_close_codes[7]);
    printf("\"status\":{");
    for (int s = 0; s < LP_MAX_STATUS; s++)
        if (lp->status[s]) {
            printf("%s\"%d\":%lu", first ? "" : ",", s, lp->status[s]);
            first = 0;
        }
    printf("},\"pub\":{\"sent\":%lld,\"ok\":%lld,\"err\":%lld,\"answered\":%lld,\"rate\":%.3f,\"first_ns\":%lld,"
           "\"last_ns\":%lld},\"copies\":[",
           lp->pub_total ? sent : 0, lp->pub_ok, lp->pub_err, lp->pub_answered, lp->rate, lp->pub_first_ns,
           lp->pub_last_ns);
    {
        long long last = lp->ncopies - 1;

        while (last >= 0 && lp->copies[last] == 0)
            last--;
        for (long long i = 0; i <= last; i++)
            printf("%s%ld", i ? "," : "", lp->copies[i]);
    }
    printf("],\"lat_max_us\":%llu,\"hist\":", (unsigned long long)lp->hist.max_us);
    lp_hist_write_json(&lp->hist, stdout);
    printf("}\n");
    fflush(stdout);
}

static int lp_read_tokens(struct lp *lp, const char *path)
{
    char line[512];
    FILE *f = fopen(path, "r");
    unsigned cap = 0;

    if (!f) {
        perror(path);
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n \t")] = '\0';
        if (!line[0])
            continue;
        if (lp->ntokens == cap) {
            cap = cap ? cap * 2 : 1024;
            lp->tokens = lp_xrealloc(lp->tokens, sizeof(char *) * cap);
        }
        lp->tokens[lp->ntokens++] = strdup(line);
    }
    fclose(f);
    return 0;
}

/* "127.0.0.2-127.0.0.9" or a single address. */
static int lp_parse_srcs(struct lp *lp, const char *spec)
{
    char a[32], b[32];
    const char *dash = strchr(spec, '-');
    struct in_addr lo, hi;

    snprintf(a, sizeof(a), "%.*s", dash ? (int)(dash - spec) : (int)strlen(spec), spec);
    snprintf(b, sizeof(b), "%s", dash ? dash + 1 : a);
    if (inet_pton(AF_INET, a, &lo) != 1 || inet_pton(AF_INET, b, &hi) != 1 || ntohl(hi.s_addr) < ntohl(lo.s_addr) ||
        ntohl(hi.s_addr) - ntohl(lo.s_addr) > 65535)
        return -1;
    lp->nsrcs = ntohl(hi.s_addr) - ntohl(lo.s_addr) + 1;
    lp->srcs = lp_xrealloc(NULL, sizeof(*lp->srcs) * lp->nsrcs);
    for (unsigned i = 0; i < lp->nsrcs; i++)
        lp->srcs[i].s_addr = htonl(ntohl(lo.s_addr) + i);
    return 0;
}

static void lp_usage(FILE *f)
{
    fprintf(f,
            "usage: loadpoll run [options]\n"
            "  -a ADDR:PORT   front server (default 127.0.0.1:8080)\n"
            "  -m poll|sse|ws client kind (default poll); ws: RFC 6455 clients (parked = hello seen)\n"
            "  -u PATH        WebSocket path (default /ws)\n"
            "  -n N           clients (default 0)\n"
            "  -k FILE        tokens, one a line; client i uses token (O+i) mod count\n"
            "  -O O           token offset (default 0)\n"
            "  -b A[-B]       source addresses, e.g. 127.0.0.2-127.0.0.9 (round robin)\n"
            "  -s N           connections being set up at once (default 200)\n"
            "  -T S           long-poll timeout parameter (default 55)\n"
            "  -q MS          quiet time before ready (default 1000)\n"
            "  -w FILE        write FILE when all clients are parked and quiet\n"
            "  -W S           ... or after S seconds anyway (default 0: never)\n"
            "  -g TAG         run tag embedded in messages (default the pid)\n"
            "  -r RATE -d S -R ROOM -P TOKEN   publish RATE msg/s for S s to ROOM\n"
            "  -c N           publisher connections (default 4)\n"
            "  -t S           stop after S seconds (default 120); SIGTERM/SIGINT stop too\n"
            "usage: loadpoll stat [-l LABEL] NAME=PID...\n"
            "usage: loadpoll report FILE...\n");
}

static int lp_run(int argc, char **argv)
{
    static struct lp lpv;
    struct lp *lp = &lpv;
    struct epoll_event evs[512];
    char tagbuf[32], *colon;
    const char *addr = "127.0.0.1:8080", *tokfile = NULL;
    long long deadline;
    int opt;

    lp->mode = LP_POLL;
    lp->ws_path = "/ws";
    lp->rnd = 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid() ^ (uint64_t)lp_now();
    lp->setup_max = 200;
    lp->poll_timeout = 55;
    lp->quiet_ms = 1000;
    lp->pub_conns = 4;
    lp->run_secs = 120;
    snprintf(tagbuf, sizeof(tagbuf), "%d", (int)getpid());
    lp->tag = tagbuf;
    optind = 1;
    while ((opt = getopt(argc, argv, "a:m:n:k:O:b:s:T:q:w:W:g:r:d:R:P:c:t:u:h")) != -1) {
        switch (opt) {
        case 'a': addr = optarg; break;
        case 'm': lp->mode = strcmp(optarg, "sse") == 0 ? LP_SSE : strcmp(optarg, "ws") == 0 ? LP_WS : LP_POLL; break;
        case 'u': lp->ws_path = optarg; break;
        case 'n': lp->nclients = atoi(optarg); break;
        case 'k': tokfile = optarg; break;
        case 'O': lp->tok_off = (unsigned)atoi(optarg); break;
        case 'b':
            if (lp_parse_srcs(lp, optarg) < 0) {
                fprintf(stderr, "loadpoll: bad source range '%s'\n", optarg);
                return 2;
            }
            break;
        case 's': lp->setup_max = atoi(optarg); break;
        case 'T': lp->poll_timeout = atoi(optarg); break;
        case 'q': lp->quiet_ms = atoi(optarg); break;
        case 'w': lp->ready_file = optarg; break;
        case 'W': lp->ready_timeout = atof(optarg); break;
        case 'g': lp->tag = optarg; break;
        case 'r': lp->rate = atof(optarg); break;
        case 'd': lp->pub_secs = atof(optarg); break;
        case 'R': lp->room = optarg; break;
        case 'P': lp->pub_token = optarg; break;
        case 'c': lp->pub_conns = atoi(optarg); break;
        case 't': lp->run_secs = atof(optarg); break;
        case 'h': lp_usage(stdout); return 0;
        default: lp_usage(stderr); return 2;
        }
    }
    snprintf(lp->host, sizeof(lp->host), "%s", addr);
    colon = strrchr(lp->host, ':');
    lp->dst.sin_family = AF_INET;
    if (!colon || inet_pton(AF_INET, (*colon = '\0', lp->host), &lp->dst.sin_addr) != 1 ||
        (lp->dst.sin_port = htons((uint16_t)atoi(colon + 1))) == 0) {
        fprintf(stderr, "loadpoll: bad address '%s'\n", addr);
        return 2;
    }
    snprintf(lp->host, sizeof(lp->host), "%s", addr);
    if (lp->nclients < 0 || lp->setup_max < 1 || lp->pub_conns < 1 || lp->run_secs <= 0) {
        lp_usage(stderr);
        return 2;
    }
    if (lp->nclients > 0 && (!tokfile || lp_read_tokens(lp, tokfile) < 0 || lp->ntokens == 0)) {
        fprintf(stderr, "loadpoll: clients need -k FILE with at least one token\n");
        return 2;
    }
    if (lp->rate > 0) {
        if (lp->pub_secs <= 0 || !lp->room || !lp->pub_token) {
            fprintf(stderr, "loadpoll: publishing needs -r RATE -d SECONDS -R ROOM -P TOKEN\n");
            return 2;
        }
        lp->pub_total = (long long)(lp->rate * lp->pub_secs + 0.5);
    } else {
        lp->pub_conns = 0;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, lp_on_signal);
    signal(SIGINT, lp_on_signal);
    lp->ep = epoll_create1(EPOLL_CLOEXEC);
    lp->ntotal = lp->nclients + lp->pub_conns;
    lp->c = calloc((size_t)lp->ntotal + 1, sizeof(*lp->c));
    lp->retryq = calloc((size_t)lp->ntotal + 1, sizeof(*lp->retryq));
    if (lp->ep < 0 || !lp->c || !lp->retryq) {
        perror("loadpoll");
        return 1;
    }
    for (int i = 0; i < lp->ntotal; i++) {
        struct lp_client *c = &lp->c[i];

        c->fd = -1;
        c->idx = (unsigned)i;
        if (i < lp->nclients) {
            c->role = lp->mode;
            c->token = lp->tokens[(lp->tok_off + (unsigned)i) % lp->ntokens];
        } else {
            c->role = LP_PUB;
            c->token = lp->pub_token;
        }
    }
    lp->start_ns = lp->last_event_ns = lp_now();
    deadline = lp->start_ns + (long long)(lp->run_secs * 1e9);
    for (int i = lp->nclients; i < lp->ntotal; i++)
        lp_open(lp, &lp->c[i]);
    while (!lp_stop) {
        long long now = lp_now(), due;
        int timeout_ms = 50, n;

        if (now >= deadline)
            break;
        lp_open_more(lp, now);
        lp_pub_tick(lp, now);
        lp_check_ready(lp, now);
        if (lp->nclients == 0 && lp->pub_total && lp->pub_next >= lp->pub_total && lp->pub_pending == 0 &&
            lp->pub_answered >= lp->pub_total)
            break;
        due = lp_pub_next_due(lp);
        if (due && due > now && (due - now) / 1000000 < timeout_ms)
            timeout_ms = (int)((due - now) / 1000000);
        n = epoll_wait(lp->ep, evs, (int)(sizeof(evs) / sizeof(evs[0])), timeout_ms);
        for (int i = 0; i < n; i++)
            lp_io(lp, evs[i].data.ptr, evs[i].events);
    }
    lp_write_result(lp, lp_now());
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        lp_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "run") == 0)
        return lp_run(argc - 1, argv + 1);
    if (strcmp(argv[1], "stat") == 0)
        return lp_proc_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "report") == 0)
        return lp_report_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        lp_usage(stdout);
        return 0;
    }
    lp_usage(stderr);
    return 2;
}

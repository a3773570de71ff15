#include "park.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <fastcgi.h>
#include <fcgiapp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "sockout.h"
#include "xmalloc.h"

#define PARK_RECORD_MAX 65535   /* FastCGI's content length is 16 bits */
#define PARK_DRAIN_READS 8      /* bound on reads of unread input at a close */

static const char *const park_var_names[PARK_VAR_COUNT] = {
    "REQUEST_METHOD", "REQUEST_URI", "QUERY_STRING", "HTTP_COOKIE", "HTTP_AUTHORIZATION",
    "HTTP_ORIGIN", "HTTP_HOST", "HTTPS", "HTTP_LAST_EVENT_ID", "REMOTE_ADDR",
};

struct park_req {
    struct park *park;
    struct bufferevent *bev;
    unsigned short id;           /* FastCGI request id */
    unsigned ended : 1;          /* park_end called */
    unsigned gone : 1;           /* connection closed or failed */
    unsigned in_cb : 1;          /* inside a bufferevent callback */
    park_gone_fn on_gone;
    void *gone_arg;
    park_drain_fn on_drain;
    void *drain_arg;
    struct park_req *qnext;      /* hand-off queue */
    int fd;
    unsigned short off[PARK_VAR_COUNT + 1];  /* offsets into vars; the
                                                last is the path */
    char vars[];                 /* NUL-terminated values, packed */
};

struct park {
    struct event_base *base;
    park_handler_fn handler;
    void *arg;
    int sock;
    size_t max_out;
    pthread_t thread;
    int thread_started;
    pthread_mutex_t lock;
    struct park_req *qhead, *qtail;   /* accepted, not yet on the loop */
    struct event *wake;
    unsigned long active, gone_total;
};

/* Copies the variables we use into one allocation: a parked request then
 * costs this and a bufferevent, not libfcgi's stream buffers. */
static struct park_req *park_req_from(FCGX_Request *fx)
{
    const char *v[PARK_VAR_COUNT];
    size_t len[PARK_VAR_COUNT], total = 0, off = 0, path_len;
    struct park_req *r;

    for (int i = 0; i < PARK_VAR_COUNT; i++) {
        v[i] = FCGX_GetParam(park_var_names[i], fx->envp);
        if (!v[i])
            v[i] = "";
        len[i] = strlen(v[i]);
        if (len[i] > 8192)
            len[i] = 8192;   /* lighttpd bounds headers too; keep offsets short */
        total += len[i] + 1;
    }
    path_len = strcspn(v[PARK_URI], "?");
    if (path_len > len[PARK_URI])
        path_len = len[PARK_URI];
    r = xcalloc(1, sizeof(*r) + total + path_len + 1);
    for (int i = 0; i < PARK_VAR_COUNT; i++) {
        r->off[i] = (unsigned short)off;
        memcpy(r->vars + off, v[i], len[i]);
        r->vars[off + len[i]] = '\0';
        off += len[i] + 1;
    }
    r->off[PARK_VAR_COUNT] = (unsigned short)off;
    memcpy(r->vars + off, v[PARK_URI], path_len);
    r->vars[off + path_len] = '\0';
    r->fd = fx->ipcFd;
    r->id = (unsigned short)fx->requestId;
    return r;
}

static void *park_accept_loop(void *arg)
{
    struct park *p = arg;

    for (;;) {
        FCGX_Request fx;
        struct park_req *r;

        if (FCGX_InitRequest(&fx, p->sock, 0) != 0)
            break;
        if (FCGX_Accept_r(&fx) < 0) {
            log_error("park", "event=accept_failed");
            usleep(100 * 1000);   /* a persistent failure must not spin */
            continue;
        }
        r = park_req_from(&fx);
        /* Frees the streams and params but keeps the connection open: the
         * loop owns it now. */
        FCGX_Free(&fx, 0);
        pthread_mutex_lock(&p->lock);
        if (p->qtail)
            p->qtail->qnext = r;
        else
            p->qhead = r;
        p->qtail = r;
        pthread_mutex_unlock(&p->lock);
        event_active(p->wake, EV_READ, 0);
    }
    return NULL;
}

static void park_req_free(struct park_req *r)
{
    if (r->bev)
        bufferevent_free(r->bev);   /* closes the fd */
    else if (r->fd >= 0)
        close(r->fd);
    r->park->active--;
    free(r);
}

/* The connection failed under a write: gone, without on_gone (the writer
 * is in the middle of its work and ends the request itself). */
static void park_set_gone(struct park_req *r)
{
    if (r->gone)
        return;
    r->gone = 1;
    r->park->gone_total++;
}

static void park_mark_gone(struct park_req *r)
{
    if (r->gone)
        return;
    park_set_gone(r);
    if (!r->ended && r->on_gone) {
        r->in_cb = 1;
        r->on_gone(r, r->gone_arg);
        r->in_cb = 0;
    }
}

static void park_on_read(struct bufferevent *bev, void *arg)
{
    (void)arg;
    /* FCGI_STDIN records and anything else the front server sends while
     * we wait are of no use to a GET that is already parsed. */
    evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
}

/* Everything buffered went out: back to writing at park_flush. */
static void park_on_write(struct bufferevent *bev, void *arg)
{
    struct park_req *r = arg;

    sockout_drained(bev);
    if (r->ended) {
        park_req_free(r);
    } else if (r->on_drain && !r->gone) {
        r->on_drain(r, r->drain_arg);
    }
}

static void park_on_event(struct bufferevent *bev, short what, void *arg)
{
    struct park_req *r = arg;

    (void)bev;
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
        return;
    park_mark_gone(r);
    if (r->ended)
        park_req_free(r);
}

static void park_on_wake(evutil_socket_t fd, short what, void *arg)
{
    struct park *p = arg;
    struct park_req *r, *next;

    (void)fd;
    (void)what;
    pthread_mutex_lock(&p->lock);
    r = p->qhead;
    p->qhead = p->qtail = NULL;
    pthread_mutex_unlock(&p->lock);
    for (; r; r = next) {
        next = r->qnext;
        r->qnext = NULL;
        r->park = p;
        p->active++;
        evutil_make_socket_nonblocking(r->fd);
        r->bev = bufferevent_socket_new(p->base, r->fd, BEV_OPT_CLOSE_ON_FREE);
        if (!r->bev) {
            log_error("park", "event=bufferevent_failed");
            park_req_free(r);
            continue;
        }
        /* r->fd stays: the bufferevent owns (closes) it, park_flush writes on it. */
        bufferevent_setcb(r->bev, park_on_read, park_on_write, park_on_event, r);
        sockout_init(r->bev);   /* park_flush writes */
        bufferevent_enable(r->bev, EV_READ);
        p->handler(r, p->arg);
    }
}

int park_new(struct park **out, struct event_base *base, int listen_sock, size_t max_out,
             park_handler_fn handler, void *arg)
{
    struct park *p = xcalloc(1, sizeof(*p));

    p->base = base;
    p->sock = listen_sock;
    p->max_out = max_out;
    p->handler = handler;
    p->arg = arg;
    pthread_mutex_init(&p->lock, NULL);
    p->wake = event_new(base, -1, EV_PERSIST | EV_READ, park_on_wake, p);
    if (pthread_create(&p->thread, NULL, park_accept_loop, p) != 0) {
        log_error("park", "event=thread_create_failed");
        event_free(p->wake);
        free(p);
        return -1;
    }
    p->thread_started = 1;
    *out = p;
    return 0;
}

void park_free(struct park *p)
{
    if (!p)
        return;
    /* The accept thread may still be blocked in accept; detach it, the
     * process is on its way out. Requests it queued are closed here. */
    if (p->thread_started)
        pthread_detach(p->thread);
    pthread_mutex_lock(&p->lock);
    for (struct park_req *r = p->qhead, *next; r; r = next) {
        next = r->qnext;
        close(r->fd);
        free(r);
    }
    p->qhead = p->qtail = NULL;
    pthread_mutex_unlock(&p->lock);
    event_free(p->wake);
    free(p);
}

unsigned long park_active(const struct park *p)
{
    return p->active;
}

unsigned long park_gone_total(const struct park *p)
{
    return p->gone_total;
}

const char *park_env(const struct park_req *r, enum park_var v)
{
    return r->vars + r->off[v];
}

const char *park_path(const struct park_req *r)
{
    return r->vars + r->off[PARK_VAR_COUNT];
}

void park_on_gone(struct park_req *r, park_gone_fn fn, void *arg)
{
    r->on_gone = fn;
    r->gone_arg = arg;
}

void park_on_drain(struct park_req *r, park_drain_fn fn, void *arg)
{
    r->on_drain = fn;
    r->drain_arg = arg;
}

size_t park_unsent(const struct park_req *r)
{
    return r->bev ? evbuffer_get_length(bufferevent_get_output(r->bev)) : 0;
}

/* One FastCGI record header (the layout is libfcgi's FCGI_Header). */
static void park_header(FCGI_Header *h, unsigned char type, unsigned short id, size_t len)
{
    h->version = FCGI_VERSION_1;
    h->type = type;
    h->requestIdB1 = (unsigned char)(id >> 8);
    h->requestIdB0 = (unsigned char)id;
    h->contentLengthB1 = (unsigned char)(len >> 8);
    h->contentLengthB0 = (unsigned char)len;
    h->paddingLength = 0;
    h->reserved = 0;
}

/* Appends v[0..n) to the connection's output, after anything still
 * buffered; park_flush writes it. */
static void park_out(struct park_req *r, const struct iovec *v, int n)
{
    struct evbuffer *out = bufferevent_get_output(r->bev);

    for (int i = 0; i < n; i++)
        evbuffer_add(out, v[i].iov_base, v[i].iov_len);
}

int park_flush(struct park_req *r)
{
    if (r->gone)
        return -1;
    if (sockout_flush(r->bev) < 0) {
        park_set_gone(r);
        return -1;
    }
    return 0;
}

int park_queuev(struct park_req *r, const struct iovec *iov, int iovcnt)
{
    struct iovec v[PARK_IOV_MAX + 1];
    struct evbuffer *out;
    FCGI_Header h;
    size_t total = 0, off = 0;
    int i = 0, rc = -1;

    if (iovcnt < 1 || iovcnt > PARK_IOV_MAX || r->gone || r->ended)
        goto out;
    for (int j = 0; j < iovcnt; j++) {
        if (iov[j].iov_len > SIZE_MAX - total)
            goto out;
        total += iov[j].iov_len;
    }
    /* Records of up to 65535 bytes, each header + slices of the pieces: a
     * record takes slices of at most iovcnt pieces, so v is big enough.
     * Nothing to write is no record (an empty one ends stdout). */
    while (total > 0) {
        size_t len = total > PARK_RECORD_MAX ? PARK_RECORD_MAX : total, need = len;
        int nv = 1;

        park_header(&h, FCGI_STDOUT, r->id, len);
        v[0].iov_base = &h;
        v[0].iov_len = sizeof(h);
        while (need > 0) {
            size_t take = iov[i].iov_len - off;
            if (take > need)
                take = need;
            if (take > 0) {
                v[nv].iov_base = (char *)iov[i].iov_base + off;
                v[nv].iov_len = take;
                nv++;
            }
            off += take;
            need -= take;
            if (off == iov[i].iov_len) {
                i++;
                off = 0;
            }
        }
        park_out(r, v, nv);
        total -= len;
    }
    /* A client that stopped reading: lighttpd stops reading us and the
     * output piles up here. Treat it as gone; it resumes from its cursor. */
    out = bufferevent_get_output(r->bev);
    if (evbuffer_get_length(out) > r->park->max_out) {
        log_info("park", "event=slow_consumer bytes=%zu", evbuffer_get_length(out));
        park_set_gone(r);
        goto out;
    }
    rc = 0;
out:
    return rc;
}

int park_writev(struct park_req *r, const struct iovec *iov, int iovcnt)
{
    return park_queuev(r, iov, iovcnt) < 0 ? -1 : park_flush(r);
}

int park_write(struct park_req *r, const char *data, size_t len)
{
    struct iovec v = { (void *)data, len };

    return park_writev(r, &v, 1);
}

int park_printf(struct park_req *r, const char *fmt, ...)
{
    char buf[2048], *big = NULL;
    va_list ap;
    int n, rc;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n >= sizeof(buf)) {
        big = xmalloc((size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(big, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    rc = park_write(r, big ? big : buf, (size_t)n);
    free(big);
    return rc;
}

/* The whole answer is with the kernel: close now. Input the front server
 * sent that we did not read yet is read first, as closing a TCP socket
 * with unread input resets it, which can cost the peer the answer it has
 * not read yet (harmless on the usual unix socket). */
static void park_close_now(struct park_req *r)
{
    char buf[512];

    for (int i = 0; i < PARK_DRAIN_READS && recv(r->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0; i++)
        ;
    park_req_free(r);
}

void park_end(struct park_req *r)
{
    FCGI_Header h[2];
    FCGI_EndRequestBody body;
    struct iovec v[3];

    if (r->ended)
        return;
    r->ended = 1;
    if (r->gone) {
        if (!r->in_cb)
            park_req_free(r);
        return;   /* freed by park_mark_gone's caller after the callback */
    }
    park_header(&h[0], FCGI_STDOUT, r->id, 0);   /* end of stdout */
    memset(&body, 0, sizeof(body));
    body.protocolStatus = FCGI_REQUEST_COMPLETE;
    park_header(&h[1], FCGI_END_REQUEST, r->id, sizeof(body));
    v[0].iov_base = &h[0];
    v[0].iov_len = sizeof(h[0]);
    v[1].iov_base = &h[1];
    v[1].iov_len = sizeof(h[1]);
    v[2].iov_base = &body;
    v[2].iov_len = sizeof(body);
    park_out(r, v, 3);
    if (park_flush(r) < 0)
        park_req_free(r);   /* failed: nothing more will go out */
    else if (evbuffer_get_length(bufferevent_get_output(r->bev)) == 0)
        park_close_now(r);
    /* Else park_on_write frees r once the output has drained (the
     * bufferevent watches writability while output is buffered). */
}

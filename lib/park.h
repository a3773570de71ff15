/* park — FastCGI requests that wait on a libevent loop without a thread
 * each. One accept thread takes requests with libfcgi's FCGX_Accept_r
 * (which parses the FastCGI params), copies the few CGI variables the
 * programs use, lets libfcgi free its stream buffers (about 17 KiB per
 * request) and hands the bare connection to the loop. From then on the
 * loop writes FCGI_STDOUT records, never blocking, and notices at once
 * when the front server closes the connection (the client went away;
 * lighttpd needs "tcp-fin-propagate" for that).
 *
 * Records are written straight to the socket with one system call per
 * request and batch (sockout.h); only what the socket does not take waits
 * in the request's bufferevent until the socket is writable again.
 *
 * Everything but park_new/park_free runs on the loop thread. */
#ifndef SB_PARK_H
#define SB_PARK_H
#include <event2/event.h>
#include <stddef.h>
#include <sys/uio.h>

enum park_var {
    PARK_METHOD, PARK_URI, PARK_QUERY, PARK_COOKIE, PARK_AUTHORIZATION, PARK_ORIGIN,
    PARK_HOST, PARK_HTTPS, PARK_LAST_EVENT_ID, PARK_REMOTE_ADDR, PARK_VAR_COUNT
};

struct park;
struct park_req;

/* A new request, on the loop thread. The handler owns it until it calls
 * park_end (exactly once). */
typedef void (*park_handler_fn)(struct park_req *r, void *arg);
/* The connection closed before park_end: the client is gone. The owner
 * must release what it holds and call park_end (also from here). */
typedef void (*park_gone_fn)(struct park_req *r, void *arg);

/* Starts the accept thread on listen_sock (0: the socket inherited from
 * the front server). max_out: bytes of unsent output at which a request
 * counts as gone (a reader that stopped reading). Requires
 * evthread_use_pthreads() before the base was made. */
int park_new(struct park **out, struct event_base *base, int listen_sock, size_t max_out,
             park_handler_fn handler, void *arg);
/* Frees what the loop owns; the accept thread is left blocked in accept
 * (the process is exiting). */
void park_free(struct park *p);

/* Requests now held by the loop, and requests freed because their client
 * went away (for /metrics). */
unsigned long park_active(const struct park *p);
unsigned long park_gone_total(const struct park *p);

/* A CGI variable of the request, or "" if absent. */
const char *park_env(const struct park_req *r, enum park_var v);
/* Path part of REQUEST_URI. */
const char *park_path(const struct park_req *r);

void park_on_gone(struct park_req *r, park_gone_fn fn, void *arg);

/* Output that waited for the socket has all gone out (not called when
 * the socket took everything at once). The owner may queue more from
 * here, but not end r (as for every bufferevent callback but on_gone). */
typedef void (*park_drain_fn)(struct park_req *r, void *arg);
void park_on_drain(struct park_req *r, park_drain_fn fn, void *arg);
/* Bytes queued or waiting for the socket: what the front server has not
 * taken yet (flow control, before max_out makes the request gone). */
size_t park_unsent(const struct park_req *r);

/* Most pieces park_writev takes in one call. */
#define PARK_IOV_MAX 16

/* Writes response bytes (headers first, as a CGI program writes them):
 * the iovcnt pieces (1..PARK_IOV_MAX, zero-length ones allowed) go out
 * joined, as one FastCGI record when they total at most 65535 bytes
 * (lighttpd's work is per record), else as records of up to 65535 bytes.
 * The pieces are copied or sent before the call returns; nothing of the
 * caller's is kept. Returns 0, or -1 if the request is gone: closed, a
 * send failed for another reason than a full socket, or its unsent output
 * passed max_out. on_gone is then not called (the caller is in the middle
 * of a write): the caller ends it with park_end. -1 also for iovcnt out
 * of range (nothing is written). */
int park_writev(struct park_req *r, const struct iovec *iov, int iovcnt);
/* park_writev in two steps, for a burst of records to many requests (one
 * event to every stream): park_queuev appends the record(s) to the
 * request's output, park_flush writes what is queued with one system
 * call, straight to the socket unless earlier output is still waiting for
 * writability (then the bufferevent writes it all when it can). Same
 * returns as park_writev. Writing each stream's record as the event is
 * handed out, between the hub's work for the other streams, wakes
 * lighttpd for a few records at a time: it and the clients then spend
 * more CPU per record than when the writes come together at the end of
 * the batch (doc/benchmarks.md). */
int park_queuev(struct park_req *r, const struct iovec *iov, int iovcnt);
int park_flush(struct park_req *r);
/* park_writev of one piece. */
int park_write(struct park_req *r, const char *data, size_t len);
int park_printf(struct park_req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Ends the request: FCGI_END_REQUEST, then the connection is closed and
 * r freed once the output is flushed (within this call when the socket
 * takes it all at once, or the request is gone). r is invalid after this
 * call. Not to be called from inside park's bufferevent callbacks other
 * than on_gone (where it only marks r, freed after the callback). */
void park_end(struct park_req *r);

#endif

/* sockout — writing a socket bufferevent's output buffer ourselves.
 *
 * With its write side enabled, a libevent bufferevent writes by itself:
 * adding to the output buffer arms write readiness (an epoll_ctl), the
 * write happens a loop pass later, and readiness is disarmed when the
 * buffer is empty again — two system calls and a wakeup for every copy of
 * every live event. Here the write side stays off: the owner appends to
 * the output buffer, calls sockout_flush once at the end of its batch,
 * and only what the socket does not take turns the write side on, until
 * the owner's write callback (buffer drained) calls sockout_drained.
 *
 * Used by park.c (chat-poll's FastCGI connections) and wsgate's
 * connections. Loop thread only; the owner keeps the bufferevent. */
#ifndef SB_SOCKOUT_H
#define SB_SOCKOUT_H
#include <event2/bufferevent.h>

/* Right after bufferevent_socket_new: the write side off. */
void sockout_init(struct bufferevent *bev);

/* Writes what the output buffer holds with one system call, unless the
 * bufferevent is already waiting to write the rest. Returns 0, or -1 if
 * the socket failed (anything but a full socket; errno is set). */
int sockout_flush(struct bufferevent *bev);

/* True while the bufferevent itself writes the rest (the socket was full). */
int sockout_waiting(struct bufferevent *bev);

/* From the write callback: the buffer drained, writing is ours again. */
void sockout_drained(struct bufferevent *bev);

#endif

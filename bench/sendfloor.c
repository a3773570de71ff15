/* sendfloor — what the kernel alone costs per delivered copy on loopback:
 * the floor under wsgate's CPU per copy.
 *
 * The parent accepts N TCP connections on 127.0.0.1 from a forked child
 * that reads them all with epoll (as bench/loadpoll does), then, RATE
 * times a second for SECS seconds, writes one SIZE-byte message to every
 * socket with one writev each — what wsgate does per event and socket,
 * minus everything wsgate does besides the system call. On loopback the
 * receiver's TCP processing and wakeup run inside the sender's system
 * call, so this is the sender's share of a delivery on this machine.
 *
 * Prints one line: writes, the parent's user and system CPU seconds while
 * writing, and CPU microseconds per write; the child's CPU likewise.
 *
 *   make -C bench sendfloor
 *   bench/sendfloor [-n 10000] [-r 10] [-d 30] [-s 330]
 *
 * Needs N + 16 descriptors in each process (ulimit -n). Bounded: the child
 * exits when the parent's sockets close, or after SECS + 30 s. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double sendfloor_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sendfloor_cpu(int who, double *user, double *sys)
{
    struct rusage ru;

    getrusage(who, &ru);
    *user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    *sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* The readers: connect n sockets, then read until each is closed. */
static int sendfloor_child(int port, int n, int secs)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
    struct epoll_event ev, evs[256];
    static char buf[65536];
    int ep = epoll_create1(0), open = 0;
    double deadline;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    alarm((unsigned)secs + 60);   /* the bound, whatever happens */
    for (int i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (fd < 0 || (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)) {
            perror("sendfloor: connect");
            return 1;
        }
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        open++;
    }
    deadline = sendfloor_now() + secs + 30;
    while (open > 0 && sendfloor_now() < deadline) {
        int k = epoll_wait(ep, evs, 256, 1000);
        for (int i = 0; i < k; i++) {
            ssize_t r = read(evs[i].data.fd, buf, sizeof(buf));
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                close(evs[i].data.fd);
                open--;
            }
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    int n = 10000, rate = 10, secs = 30, size = 330, opt, lfd, *fds, one = 1;
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t salen = sizeof(sa);
    double u0, s0, u1, s1, cu, cs, t, start, writes = 0;
    char *msg;
    pid_t child;
    int status;

    while ((opt = getopt(argc, argv, "n:r:d:s:")) != -1) {
        switch (opt) {
        case 'n': n = atoi(optarg); break;
        case 'r': rate = atoi(optarg); break;
        case 'd': secs = atoi(optarg); break;
        case 's': size = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: %s [-n sockets] [-r rounds/s] [-d seconds] [-s bytes]\n", argv[0]);
            return 2;
        }
    }
    if (n < 1 || rate < 1 || secs < 1 || size < 1) {
        fprintf(stderr, "sendfloor: every number must be positive\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4096) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &salen) < 0) {
        perror("sendfloor: listen");
        return 1;
    }
    child = fork();
    if (child == 0)
        _exit(sendfloor_child(ntohs(sa.sin_port), n, secs));
    fds = calloc((size_t)n, sizeof(*fds));
    msg = malloc((size_t)size);
    if (!fds || !msg)
        return 1;
    memset(msg, 'x', (size_t)size);
    for (int i = 0; i < n; i++) {
        fds[i] = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
        if (fds[i] < 0) {
            perror("sendfloor: accept");
            kill(child, SIGTERM);
            return 1;
        }
    }
    sendfloor_cpu(RUSAGE_SELF, &u0, &s0);
    start = sendfloor_now();
    for (int round = 0; round < rate * secs; round++) {
        struct iovec v = { msg, (size_t)size };
        for (int i = 0; i < n; i++)
            if (writev(fds[i], &v, 1) == size)
                writes++;
        t = start + (double)(round + 1) / rate - sendfloor_now();
        if (t > 0) {
            struct timespec ts = { (time_t)t, (long)((t - (double)(time_t)t) * 1e9) };
            nanosleep(&ts, NULL);
        }
    }
    sendfloor_cpu(RUSAGE_SELF, &u1, &s1);
    for (int i = 0; i < n; i++)
        close(fds[i]);
    waitpid(child, &status, 0);
    sendfloor_cpu(RUSAGE_CHILDREN, &cu, &cs);
    printf("{\"sockets\":%d,\"rate\":%d,\"secs\":%d,\"size\":%d,\"writes\":%.0f,"
           "\"sender_user_s\":%.2f,\"sender_sys_s\":%.2f,\"sender_us_per_write\":%.2f,"
           "\"reader_cpu_s\":%.2f,\"reader_us_per_write\":%.2f}\n",
           n, rate, secs, size, writes, u1 - u0, s1 - s0,
           writes > 0 ? (u1 - u0 + s1 - s0) * 1e6 / writes : -1.0, cu + cs,
           writes > 0 ? (cu + cs) * 1e6 / writes : -1.0);
    free(fds);
    free(msg);
    return 0;
}

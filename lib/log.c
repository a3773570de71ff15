/* log — key=value lines, one write(2) each, so lines from many threads
 * (and many processes sharing a file opened O_APPEND) never interleave.
 * The only global state of lib/: the program name, the level and the fd,
 * behind one rwlock (log_msg readers run in parallel; log_open swaps the
 * fd under the write lock, so no write ever lands on a closed fd). */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"

/* Longer lines are cut: a log line is not a place for a message body. */
#define LOG_LINE_MAX 4096

static pthread_rwlock_t log_lock = PTHREAD_RWLOCK_INITIALIZER;
static const char *log_prog = "-";
static enum log_level log_level_cur = LOG_LVL_INFO;
static int log_fd = STDERR_FILENO;

static const char *const log_level_names[] = {"error", "warn", "info", "debug"};

void log_init(const char *prog, enum log_level level)
{
    pthread_rwlock_wrlock(&log_lock);
    log_prog = prog ? prog : "-";
    log_level_cur = level;
    pthread_rwlock_unlock(&log_lock);
}

int log_level_parse(const char *s)
{
    size_t i;

    if (!s)
        return -1;
    for (i = 0; i < sizeof log_level_names / sizeof log_level_names[0]; i++)
        if (strcmp(s, log_level_names[i]) == 0)
            return (int)i;
    return -1;
}

void log_set_level(enum log_level level)
{
    pthread_rwlock_wrlock(&log_lock);
    log_level_cur = level;
    pthread_rwlock_unlock(&log_lock);
}

int log_open(const char *path)
{
    int fd = STDERR_FILENO;
    int old;

    if (path && *path) {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        /* Keep logging to the old destination rather than to nowhere. */
        if (fd < 0)
            return CHAT_ERR_IO;
    }
    pthread_rwlock_wrlock(&log_lock);
    old = log_fd;
    log_fd = fd;
    pthread_rwlock_unlock(&log_lock);
    if (old != STDERR_FILENO && old != fd)
        close(old);
    return 0;
}

/* Moves n back so that buf[0..n) does not end inside a UTF-8 sequence. */
static size_t log_utf8_cut(const char *buf, size_t n)
{
    size_t k = n;

    while (k > 0 && ((unsigned char)buf[k - 1] & 0xC0) == 0x80)
        k--;
    if (k > 0 && ((unsigned char)buf[k - 1] & 0x80)) {
        unsigned char lead = (unsigned char)buf[k - 1];
        size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
        if (n - (k - 1) < need)
            return k - 1;
    }
    return n;
}

void log_msg(enum log_level level, const char *mod, const char *fmt, ...)
{
    static const char cut[] = "...";
    char line[LOG_LINE_MAX];
    struct timespec now;
    struct tm tm;
    va_list ap;
    size_t len, i, head;
    int n;

    if ((int)level < LOG_LVL_ERROR || level > LOG_LVL_DEBUG)
        level = LOG_LVL_ERROR;

    pthread_rwlock_rdlock(&log_lock);
    if (level > log_level_cur)
        goto out;

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    n = snprintf(line, sizeof line,
                 "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ lvl=%s prog=%s mod=%s ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                 tm.tm_sec, now.tv_nsec / 1000000L, log_level_names[level], log_prog,
                 mod ? mod : "-");
    if (n < 0)
        goto out;
    /* Leave room for the cut marker and the newline whatever happens. */
    if ((size_t)n > sizeof line - sizeof cut - 1)
        n = (int)(sizeof line - sizeof cut - 1);
    head = (size_t)n;

    va_start(ap, fmt);
    n = vsnprintf(line + head, sizeof line - head, fmt, ap);
    va_end(ap);
    if (n < 0)
        goto out;
    len = head + (size_t)n;
    if (len > sizeof line - sizeof cut - 1) {
        len = log_utf8_cut(line, sizeof line - sizeof cut - 1);
        memcpy(line + len, cut, sizeof cut - 1);
        len += sizeof cut - 1;
    }
    /* One event, one line: a stray newline in a caller's value must not
     * forge a second entry. */
    for (i = head; i < len; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[len++] = '\n';

    {
        ssize_t w;
        do
            w = write(log_fd, line, len);
        while (w < 0 && errno == EINTR);
    }
out:
    pthread_rwlock_unlock(&log_lock);
}

char *log_quote(char *buf, size_t size, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    if (size == 0)
        return buf;
    if (size < 3) {
        buf[0] = '\0';
        return buf;
    }
    buf[o++] = '"';
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[5];
        size_t k = 0;

        if (c == '"' || c == '\\') {
            esc[k++] = '\\';
            esc[k++] = (char)c;
        } else if (c == '\n') {
            esc[k++] = '\\';
            esc[k++] = 'n';
        } else if (c == '\r') {
            esc[k++] = '\\';
            esc[k++] = 'r';
        } else if (c == '\t') {
            esc[k++] = '\\';
            esc[k++] = 't';
        } else if (c < 0x20 || c == 0x7f) {
            esc[k++] = '\\';
            esc[k++] = 'x';
            esc[k++] = hex[c >> 4];
            esc[k++] = hex[c & 15];
        } else {
            esc[k++] = (char)c;
        }
        /* Room for this piece, the closing quote and the NUL. */
        if (o + k + 2 > size)
            break;
        memcpy(buf + o, esc, k);
        o += k;
    }
    o = log_utf8_cut(buf, o);
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

/* xmalloc — abort on allocation failure, so no caller carries an
 * untestable NULL branch. */
#include "xmalloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void xmalloc_oom(size_t size) __attribute__((noreturn));

static void xmalloc_oom(size_t size)
{
    /* fprintf may itself allocate; a fixed message through write(2) cannot. */
    static const char msg[] = "out of memory\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
    (void)size;
    abort();
}

void *xmalloc(size_t size)
{
    /* malloc(0) may legally return NULL; asking for 1 byte keeps the
     * "never NULL" promise without a special case in callers. */
    void *p = malloc(size ? size : 1);
    if (!p)
        xmalloc_oom(size);
    return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
    void *p;

    if (size && nmemb > SIZE_MAX / size)
        xmalloc_oom(SIZE_MAX);
    if (!nmemb || !size)
        nmemb = size = 1;
    p = calloc(nmemb, size);
    if (!p)
        xmalloc_oom(nmemb * size);
    return p;
}

void *xrealloc(void *ptr, size_t size)
{
    /* realloc(p, 0) may free p and return NULL: never let it. */
    void *p = realloc(ptr, size ? size : 1);
    if (!p)
        xmalloc_oom(size);
    return p;
}

char *xstrdup(const char *s)
{
    size_t n = strlen(s);
    char *p;

    if (n == SIZE_MAX)
        xmalloc_oom(n);
    p = xmalloc(n + 1);
    memcpy(p, s, n + 1);
    return p;
}

char *xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = xmalloc(len + 1);

    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        xmalloc_oom(0);
    return s;
}

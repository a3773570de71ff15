/* xmalloc — the one out-of-memory policy: allocation failure aborts with a
 * message, so callers never test for NULL. */
#ifndef SB_XMALLOC_H
#define SB_XMALLOC_H
#include <stddef.h>

/* Each returns memory the caller owns and frees with free(). They never
 * return NULL: on failure they print "out of memory" and abort(). */
void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);        /* checks nmemb*size overflow */
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

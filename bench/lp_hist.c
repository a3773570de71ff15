#include "lp_hist.h"

/* Below 1,024 µs one bucket per µs; above, 512 buckets per power of two. */
static unsigned lp_hist_index(uint64_t v)
{
    unsigned e, shift;
    uint64_t m;
    unsigned idx;

    if (v < 1024)
        return (unsigned)v;
    e = 63u - (unsigned)__builtin_clzll(v);   /* >= 10 */
    shift = e - 9;
    m = v >> shift;                           /* 512..1023 */
    idx = 1024u + (e - 10u) * 512u + (unsigned)(m - 512u);
    return idx < LP_HIST_BUCKETS ? idx : LP_HIST_BUCKETS - 1;
}

static uint64_t lp_hist_low(unsigned idx)
{
    unsigned e;

    if (idx < 1024)
        return idx;
    e = (idx - 1024u) / 512u + 10u;
    return (uint64_t)((idx - 1024u) % 512u + 512u) << (e - 9u);
}

void lp_hist_add(struct lp_hist *h, uint64_t us)
{
    h->n[lp_hist_index(us)]++;
    h->count++;
    if (us > h->max_us)
        h->max_us = us;
}

void lp_hist_add_bucket(struct lp_hist *h, unsigned idx, uint64_t count)
{
    if (idx >= LP_HIST_BUCKETS)
        return;
    h->n[idx] += count;
    h->count += count;
}

uint64_t lp_hist_quantile(const struct lp_hist *h, double q)
{
    uint64_t want, seen = 0, v;

    if (h->count == 0)
        return 0;
    want = (uint64_t)(q * (double)h->count + 0.999999);
    if (want < 1)
        want = 1;
    for (unsigned i = 0; i < LP_HIST_BUCKETS; i++) {
        seen += h->n[i];
        if (seen >= want) {
            uint64_t lo = lp_hist_low(i), hi = i + 1 < LP_HIST_BUCKETS ? lp_hist_low(i + 1) : lo;
            v = lo + (hi - lo) / 2;
            return h->max_us && v > h->max_us ? h->max_us : v;
        }
    }
    return h->max_us;
}

void lp_hist_write_json(const struct lp_hist *h, FILE *f)
{
    int first = 1;

    fputc('[', f);
    for (unsigned i = 0; i < LP_HIST_BUCKETS; i++) {
        if (!h->n[i])
            continue;
        fprintf(f, "%s[%u,%llu]", first ? "" : ",", i, (unsigned long long)h->n[i]);
        first = 0;
    }
    fputc(']', f);
}

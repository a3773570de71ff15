/* lp_hist — a latency histogram in microseconds with about 0.2 %
 * resolution (exact below 1,024 µs), cheap to fill and to merge: the
 * load-tool processes each print theirs and `loadpoll report` adds them.
 * Not thread-safe; no allocation. */
#ifndef LP_HIST_H
#define LP_HIST_H
#include <stdint.h>
#include <stdio.h>

#define LP_HIST_BUCKETS 16384

struct lp_hist {
    uint64_t count;
    uint64_t max_us;
    uint64_t n[LP_HIST_BUCKETS];
};

/* Adds one value (µs); values past the last bucket land in it. */
void lp_hist_add(struct lp_hist *h, uint64_t us);
/* Adds count values that fell in bucket idx (0 <= idx < LP_HIST_BUCKETS). */
void lp_hist_add_bucket(struct lp_hist *h, unsigned idx, uint64_t count);
/* The value at quantile q (0..1), in µs: the middle of its bucket, never
 * above max_us. 0 for an empty histogram. */
uint64_t lp_hist_quantile(const struct lp_hist *h, double q);
/* Writes the non-empty buckets as a JSON array of [index,count] pairs. */
void lp_hist_write_json(const struct lp_hist *h, FILE *f);

#endif

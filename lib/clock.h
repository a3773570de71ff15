/* clock — wall-clock and monotonic milliseconds. */
#ifndef SB_CLOCK_H
#define SB_CLOCK_H

long long clock_now_ms(void);    /* since the Unix epoch: event ts */
long long clock_mono_ms(void);   /* monotonic: timeouts and intervals */

#endif

/* lp_proc — what /proc says about a process: resident memory (VmRSS) and
 * CPU time used (utime + stime), for the server and load-tool processes
 * of a benchmark run. */
#ifndef LP_PROC_H
#define LP_PROC_H

struct lp_proc_sample {
    long rss_kib;       /* VmRSS, -1 if unreadable */
    double cpu_s;       /* utime + stime in seconds, -1 if unreadable */
};

/* Fills s for pid; returns 0, or -1 if the process is gone. */
int lp_proc_sample(int pid, struct lp_proc_sample *s);

/* `loadpoll stat -l LABEL NAME=PID...`: prints one JSON line
 * {"kind":"stat","label","t_ns","procs":[{"name","pid","rss_kib","cpu_s"}]}.
 * Returns the exit status. */
int lp_proc_main(int argc, char **argv);

#endif

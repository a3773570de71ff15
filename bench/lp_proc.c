#define _GNU_SOURCE
#include "lp_proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int lp_proc_sample(int pid, struct lp_proc_sample *s)
{
    char path[64], line[512], *p;
    unsigned long long ut, st;
    FILE *f;
    int rc = -1;

    s->rss_kib = -1;
    s->cpu_s = -1;
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    if (!(f = fopen(path, "r")))
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            s->rss_kib = strtol(line + 6, NULL, 10);
    fclose(f);
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    if (!(f = fopen(path, "r")))
        return -1;
    /* Fields after the command name, which may hold spaces: state is
     * field 3, utime 14, stime 15. */
    if (fgets(line, sizeof(line), f) && (p = strrchr(line, ')')) &&
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2) {
        s->cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
        rc = 0;
    }
    fclose(f);
    return rc;
}

int lp_proc_main(int argc, char **argv)
{
    const char *label = "stat";
    struct timespec ts;
    int i = 1, first = 1;

    if (argc > 2 && strcmp(argv[1], "-l") == 0) {
        label = argv[2];
        i = 3;
    }
    clock_gettime(CLOCK_MONOTONIC, &ts);
    printf("{\"kind\":\"stat\",\"label\":\"%s\",\"t_ns\":%lld,\"procs\":[", label,
           (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
    for (; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        struct lp_proc_sample s;
        int pid;

        if (!eq || (pid = atoi(eq + 1)) <= 0) {
            fprintf(stderr, "loadpoll stat: expected NAME=PID, got '%s'\n", argv[i]);
            return 2;
        }
        lp_proc_sample(pid, &s);
        printf("%s{\"name\":\"%.*s\",\"pid\":%d,\"rss_kib\":%ld,\"cpu_s\":%.2f}", first ? "" : ",",
               (int)(eq - argv[i]), argv[i], pid, s.rss_kib, s.cpu_s);
        first = 0;
    }
    printf("]}\n");
    return 0;
}

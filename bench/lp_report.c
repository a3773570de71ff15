#define _GNU_SOURCE
#include "lp_report.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lp_hist.h"

#define LP_REPORT_MAX_PROCS 32
#define LP_REPORT_MAX_SEQ 1000000
#define LP_REPORT_MAX_TICKS 512

struct lp_report_proc {
    char name[32];
    double rss[4];      /* before, parked, start, end (KiB; -1 unknown) */
    double cpu[4];      /* seconds */
    double tick_cpu[LP_REPORT_MAX_TICKS];
};

struct lp_report {
    long clients, open, max_parked, dead, procs_seen;
    unsigned long connects, connect_errors, reconnects, drops, events, msgs, dups, reorders, other, other_late;
    unsigned long parse_errors;
    unsigned long status_200, status_other, status_101;
    unsigned long ws_pings, ws_closes, ws_codes[8];
    long long sent, pub_ok, pub_err, pub_first_ns, pub_last_ns, first_recv_ns, last_recv_ns;
    double load_cpu;
    long *copies;
    long long ncopies;
    struct lp_hist hist;
    struct lp_report_proc procs[LP_REPORT_MAX_PROCS];
    double tick_t[LP_REPORT_MAX_TICKS];   /* "tick" snapshots: a CPU timeline */
    int nticks;
    int nprocs;
    char mode[8];
};

static const char *const lp_report_labels[4] = { "before", "parked", "start", "end" };

static double lp_report_num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static struct lp_report_proc *lp_report_proc(struct lp_report *r, const char *name)
{
    struct lp_report_proc *p;

    for (int i = 0; i < r->nprocs; i++)
        if (strcmp(r->procs[i].name, name) == 0)
            return &r->procs[i];
    if (r->nprocs == LP_REPORT_MAX_PROCS)
        return NULL;
    p = &r->procs[r->nprocs++];
    snprintf(p->name, sizeof(p->name), "%s", name);
    for (int i = 0; i < 4; i++)
        p->rss[i] = p->cpu[i] = -1;
    return p;
}

static void lp_report_stat(struct lp_report *r, const cJSON *o)
{
    const cJSON *label = cJSON_GetObjectItemCaseSensitive(o, "label");
    const cJSON *procs = cJSON_GetObjectItemCaseSensitive(o, "procs"), *p;
    int slot = -1;

    for (int i = 0; i < 4; i++)
        if (cJSON_IsString(label) && strcmp(label->valuestring, lp_report_labels[i]) == 0)
            slot = i;
    if (cJSON_IsString(label) && strcmp(label->valuestring, "tick") == 0 && r->nticks < LP_REPORT_MAX_TICKS) {
        int t = r->nticks++;

        r->tick_t[t] = lp_report_num(o, "t_ns") / 1e9;
        cJSON_ArrayForEach(p, procs) {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(p, "name");
            struct lp_report_proc *rp;

            if (cJSON_IsString(name) && (rp = lp_report_proc(r, name->valuestring)))
                rp->tick_cpu[t] += lp_report_num(p, "cpu_s");
        }
        return;
    }
    if (slot < 0)
        return;
    cJSON_ArrayForEach(p, procs) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(p, "name");
        struct lp_report_proc *rp;

        if (!cJSON_IsString(name) || !(rp = lp_report_proc(r, name->valuestring)))
            continue;
        /* Several processes of one name (load-tool processes): add up. */
        if (rp->rss[slot] < 0)
            rp->rss[slot] = rp->cpu[slot] = 0;
        rp->rss[slot] += lp_report_num(p, "rss_kib");
        rp->cpu[slot] += lp_report_num(p, "cpu_s");
    }
}

static void lp_report_min_ns(long long *dst, long long v)
{
    if (v && (!*dst || v < *dst))
        *dst = v;
}

static void lp_report_load(struct lp_report *r, const cJSON *o)
{
    const cJSON *pub = cJSON_GetObjectItemCaseSensitive(o, "pub");
    const cJSON *copies = cJSON_GetObjectItemCaseSensitive(o, "copies");
    const cJSON *hist = cJSON_GetObjectItemCaseSensitive(o, "hist");
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(o, "status");
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(o, "mode");
    const cJSON *e;
    long long n = 0, v;

    r->procs_seen++;
    r->clients += (long)lp_report_num(o, "clients");
    if (lp_report_num(o, "clients") > 0 && cJSON_IsString(mode))
        snprintf(r->mode, sizeof(r->mode), "%s", mode->valuestring);
    r->open += (long)lp_report_num(o, "open");
    r->max_parked += (long)lp_report_num(o, "max_parked");
    r->dead += (long)lp_report_num(o, "dead");
    r->connects += (unsigned long)lp_report_num(o, "connects");
    r->connect_errors += (unsigned long)lp_report_num(o, "connect_errors");
    r->reconnects += (unsigned long)lp_report_num(o, "reconnects");
    r->drops += (unsigned long)lp_report_num(o, "drops");
    r->events += (unsigned long)lp_report_num(o, "events");
    r->msgs += (unsigned long)lp_report_num(o, "msgs");
    r->dups += (unsigned long)lp_report_num(o, "dups");
    r->reorders += (unsigned long)lp_report_num(o, "reorders");
    r->other += (unsigned long)lp_report_num(o, "other");
    r->other_late += (unsigned long)lp_report_num(o, "other_late");
    r->parse_errors += (unsigned long)lp_report_num(o, "parse_errors");
    r->load_cpu += lp_report_num(o, "cpu_s");
    lp_report_min_ns(&r->first_recv_ns, (long long)lp_report_num(o, "first_recv_ns"));
    v = (long long)lp_report_num(o, "last_recv_ns");
    if (v > r->last_recv_ns)
        r->last_recv_ns = v;
    cJSON_ArrayForEach(e, status) {
        if (strcmp(e->string, "200") == 0)
            r->status_200 += (unsigned long)e->valuedouble;
        else if (strcmp(e->string, "101") == 0)
            r->status_101 += (unsigned long)e->valuedouble;
        else
            r->status_other += (unsigned long)e->valuedouble;
    }
    {
        const cJSON *ws = cJSON_GetObjectItemCaseSensitive(o, "ws");
        const cJSON *cc = cJSON_GetObjectItemCaseSensitive(ws, "close_codes");
        static const char *const codes[8] = { "1000", "1001", "1002", "1008", "1011", "4001", "4008", "other" };

        r->ws_pings += (unsigned long)lp_report_num(ws, "pings");
        r->ws_closes += (unsigned long)lp_report_num(ws, "closes");
        for (int i = 0; i < 8; i++)
            r->ws_codes[i] += (unsigned long)lp_report_num(cc, codes[i]);
    }
    if (lp_report_num(pub, "sent") > 0) {
        r->sent += (long long)lp_report_num(pub, "sent");
        r->pub_ok += (long long)lp_report_num(pub, "ok");
        r->pub_err += (long long)lp_report_num(pub, "err");
        lp_report_min_ns(&r->pub_first_ns, (long long)lp_report_num(pub, "first_ns"));
        v = (long long)lp_report_num(pub, "last_ns");
        if (v > r->pub_last_ns)
            r->pub_last_ns = v;
    }
    cJSON_ArrayForEach(e, copies) {
        if (n >= LP_REPORT_MAX_SEQ)
            break;
        if (n >= r->ncopies) {
            long long nn = r->ncopies ? r->ncopies * 2 : 1024;

            r->copies = realloc(r->copies, sizeof(long) * (size_t)nn);
            if (!r->copies)
                abort();
            memset(r->copies + r->ncopies, 0, sizeof(long) * (size_t)(nn - r->ncopies));
            r->ncopies = nn;
        }
        r->copies[n++] += (long)e->valuedouble;
    }
    cJSON_ArrayForEach(e, hist) {
        if (cJSON_GetArraySize(e) == 2)
            lp_hist_add_bucket(&r->hist, (unsigned)cJSON_GetArrayItem(e, 0)->valuedouble,
                               (uint64_t)cJSON_GetArrayItem(e, 1)->valuedouble);
    }
    if ((uint64_t)lp_report_num(o, "lat_max_us") > r->hist.max_us)
        r->hist.max_us = (uint64_t)lp_report_num(o, "lat_max_us");
}

static int lp_report_file(struct lp_report *r, const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;

    if (!f) {
        perror(path);
        return -1;
    }
    while (getline(&line, &cap, f) > 0) {
        cJSON *o = cJSON_Parse(line);
        const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");

        if (cJSON_IsString(kind) && strcmp(kind->valuestring, "stat") == 0)
            lp_report_stat(r, o);
        else if (cJSON_IsString(kind) && strcmp(kind->valuestring, "load") == 0)
            lp_report_load(r, o);
        cJSON_Delete(o);
    }
    free(line);
    if (f != stdin)
        fclose(f);
    return 0;
}

static double lp_report_delta(const double *a, int from, int to)
{
    return a[from] >= 0 && a[to] >= 0 ? a[to] - a[from] : -1;
}

static int lp_report_is_server(const char *name)
{
    return strcmp(name, "lighttpd") == 0 || strcmp(name, "chat-poll") == 0 || strcmp(name, "redis") == 0 ||
           strcmp(name, "wsgate") == 0;
}

int lp_report_main(int argc, char **argv)
{
    static struct lp_report rep;
    struct lp_report *r = &rep;
    long parked = -1, delivered = 0, missing_seqs = 0;
    long long expected;
    double mem_delta = 0, server_cpu = 0, all_cpu = 0, window_s, per_copy_us, ws_cpu = -1, ws_mem = -1;
    int json_only = 0, opt, have_mem = 0, have_cpu = 0;

    optind = 1;
    while ((opt = getopt(argc, argv, "p:j")) != -1) {
        if (opt == 'p')
            parked = atol(optarg);
        else if (opt == 'j')
            json_only = 1;
        else
            return 2;
    }
    for (int i = optind; i < argc; i++)
        if (lp_report_file(r, argv[i]) < 0)
            return 1;
    if (parked < 0)
        parked = r->clients;
    for (long long s = 0; s < r->sent && s < r->ncopies; s++) {
        long c = r->copies[s] < r->clients ? r->copies[s] : r->clients;

        delivered += c;
        missing_seqs += c < r->clients;
    }
    if (r->sent > r->ncopies)
        missing_seqs += (long)(r->sent - r->ncopies);
    expected = (long long)r->clients * r->sent;
    for (int i = 0; i < r->nprocs; i++) {
        struct lp_report_proc *p = &r->procs[i];
        double dm = lp_report_delta(p->rss, 0, 1), dc = lp_report_delta(p->cpu, 2, 3);

        if (strcmp(p->name, "wsgate") == 0) {
            ws_cpu = dc;
            ws_mem = dm;
        }
        if ((strcmp(p->name, "lighttpd") == 0 || strcmp(p->name, "chat-poll") == 0 || strcmp(p->name, "wsgate") == 0) &&
            dm >= 0) {
            mem_delta += dm;
            have_mem = 1;
        }
        if (dc >= 0) {
            if (lp_report_is_server(p->name)) {
                server_cpu += dc;
                have_cpu = 1;
            }
            all_cpu += dc;
        }
    }
    window_s = r->pub_first_ns && r->last_recv_ns > r->pub_first_ns ? (double)(r->last_recv_ns - r->pub_first_ns) / 1e9
                                                                     : 0;
    per_copy_us = delivered > 0 && have_cpu ? server_cpu * 1e6 / (double)delivered : -1;
    if (!json_only) {
        printf("mode %s: %ld clients in %ld load processes; held at end %ld, most parked at once %ld, gave up %ld\n",
               r->mode[0] ? r->mode : "-", r->clients, r->procs_seen, r->open, r->max_parked, r->dead);
        printf("  connects %lu (errors %lu, dropped %lu, reconnects %lu), answers 200: %lu, upgrades 101: %lu, other: %lu\n",
               r->connects, r->connect_errors, r->drops, r->reconnects, r->status_200, r->status_101, r->status_other);
        if (r->status_101)
            printf("  websocket: pings answered %lu, close frames received %lu (1000 %lu, 1001 %lu, 1002 %lu, 1008 %lu, "
                   "1011 %lu, 4001 %lu, 4008 %lu, other %lu)\n",
                   r->ws_pings, r->ws_closes, r->ws_codes[0], r->ws_codes[1], r->ws_codes[2], r->ws_codes[3],
                   r->ws_codes[4], r->ws_codes[5], r->ws_codes[6], r->ws_codes[7]);
        if (r->sent > 0) {
            printf("  published %lld (ok %lld, errors %lld); expected copies %lld, delivered %ld, lost %lld "
                   "(%ld messages short of some client), duplicates %lu, reordered %lu\n",
                   r->sent, r->pub_ok, r->pub_err, expected, delivered, expected - delivered, missing_seqs, r->dups,
                   r->reorders);
            printf("  latency ms: p50 %.2f  p99 %.2f  p99.9 %.2f  max %.2f  (%llu samples); %.0f copies/s over %.1f s\n",
                   lp_hist_quantile(&r->hist, 0.50) / 1e3, lp_hist_quantile(&r->hist, 0.99) / 1e3,
                   lp_hist_quantile(&r->hist, 0.999) / 1e3, (double)r->hist.max_us / 1e3,
                   (unsigned long long)r->hist.count, window_s > 0 ? (double)delivered / window_s : 0, window_s);
            printf("  other events (presence, join) %lu, of which after all were parked %lu; parse errors %lu\n",
                   r->other, r->other_late, r->parse_errors);
        }
        for (int i = 0; i < r->nprocs; i++) {
            struct lp_report_proc *p = &r->procs[i];

            printf("  %-10s RSS KiB before %.0f parked %.0f (+%.0f) | CPU s in run %.2f\n", p->name, p->rss[0],
                   p->rss[1], lp_report_delta(p->rss, 0, 1), lp_report_delta(p->cpu, 2, 3));
        }
        if (r->nticks > 2) {
            double tot_mean = 0, tot_peak = 0;

            printf("  CPU while publishing, %% of one core (of 200), mean / busiest second:");
            for (int i = 0; i < r->nprocs; i++) {
                struct lp_report_proc *p = &r->procs[i];
                double peak = 0, span = r->tick_t[r->nticks - 1] - r->tick_t[0];

                for (int t = 1; t < r->nticks; t++) {
                    double dt = r->tick_t[t] - r->tick_t[t - 1];
                    double u = dt > 0 ? (p->tick_cpu[t] - p->tick_cpu[t - 1]) / dt * 100 : 0;

                    if (u > peak)
                        peak = u;
                }
                printf(" %s %.0f/%.0f", p->name, span > 0 ? (p->tick_cpu[r->nticks - 1] - p->tick_cpu[0]) / span * 100 : 0,
                       peak);
                tot_mean += span > 0 ? (p->tick_cpu[r->nticks - 1] - p->tick_cpu[0]) / span * 100 : 0;
            }
            for (int t = 1; t < r->nticks; t++) {
                double dt = r->tick_t[t] - r->tick_t[t - 1], u = 0;

                for (int i = 0; i < r->nprocs && dt > 0; i++)
                    u += (r->procs[i].tick_cpu[t] - r->procs[i].tick_cpu[t - 1]) / dt * 100;
                if (u > tot_peak)
                    tot_peak = u;
            }
            printf("; all %.0f/%.0f\n", tot_mean, tot_peak);
        }
        if (have_mem && parked > 0)
            printf("  lighttpd + chat-poll + wsgate memory per parked request: %.2f KiB (%ld parked)\n",
                   mem_delta / (double)parked, parked);
        if (ws_mem >= 0 && parked > 0)
            printf("  wsgate alone: +%.0f KiB = %.2f KiB per connection (%ld parked)\n", ws_mem,
                   ws_mem / (double)parked, parked);
        if (ws_cpu >= 0 && delivered > 0)
            printf("  wsgate CPU %.2f s = %.2f us per delivered copy\n", ws_cpu, ws_cpu * 1e6 / (double)delivered);
        if (per_copy_us >= 0)
            printf("  server CPU (lighttpd + chat-poll + wsgate + redis, those measured) %.2f s = %.1f us per delivered copy; "
                   "everything measured incl. load tools %.2f s\n",
                   server_cpu, per_copy_us, all_cpu);
    }
    printf("{\"kind\":\"summary\",\"mode\":\"%s\",\"clients\":%ld,\"held\":%ld,\"max_parked\":%ld,\"dead\":%ld,"
           "\"sent\":%lld,\"expected\":%lld,\"delivered\":%ld,\"lost\":%lld,\"dups\":%lu,\"reorders\":%lu,"
           "\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"p999_ms\":%.2f,\"max_ms\":%.2f,\"copies_per_s\":%.0f,"
           "\"mem_kib_per_parked\":%.2f,\"server_cpu_s\":%.2f,\"server_us_per_copy\":%.2f,\"all_cpu_s\":%.2f,"
           "\"status_other\":%lu,\"drops\":%lu,\"wsgate_us_per_copy\":%.2f,\"ws_closes\":%lu,\"procs\":{",
           r->mode, r->clients, r->open, r->max_parked, r->dead, r->sent, expected, delivered, expected - delivered,
           r->dups, r->reorders, lp_hist_quantile(&r->hist, 0.50) / 1e3, lp_hist_quantile(&r->hist, 0.99) / 1e3,
           lp_hist_quantile(&r->hist, 0.999) / 1e3, (double)r->hist.max_us / 1e3,
           window_s > 0 ? (double)delivered / window_s : 0, have_mem && parked > 0 ? mem_delta / (double)parked : -1,
           server_cpu, per_copy_us, all_cpu, r->status_other, r->drops,
           ws_cpu >= 0 && delivered > 0 ? ws_cpu * 1e6 / (double)delivered : -1, r->ws_closes);
    for (int i = 0; i < r->nprocs; i++) {
        struct lp_report_proc *p = &r->procs[i];

        printf("%s\"%s\":{\"rss_before\":%.0f,\"rss_parked\":%.0f,\"cpu_s\":%.2f}", i ? "," : "", p->name,
               p->rss[0], p->rss[1], lp_report_delta(p->cpu, 2, 3));
    }
    printf("}}\n");
    free(r->copies);
    return 0;
}

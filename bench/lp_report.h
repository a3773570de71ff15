/* lp_report — merges what the processes of one benchmark step printed:
 * the "load" result lines of every load-tool process and the "stat"
 * snapshots taken by the driving script (labels "before" and "parked"
 * for memory, "start" and "end" for CPU), and prints a summary. */
#ifndef LP_REPORT_H
#define LP_REPORT_H

/* `loadpoll report [-p PARKED] [-j] FILE...` ("-" = stdin). PARKED: the
 * parked-request count the memory figure is divided by (default: the
 * clients). -j: only the summary JSON line. Returns the exit status. */
int lp_report_main(int argc, char **argv);

#endif

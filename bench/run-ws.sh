#!/usr/bin/env bash
# bench/run-ws.sh — the wsgate benchmark of issue 4 (doc/benchmarks.md).
#
#   bench/run-ws.sh [idle] [idle2] [room] [proxy] [sat]   (default: all, in order)
#
# Starts a private stack (redis + lighttpd + FastCGI programs + wsgate) in
# a temp dir with bench settings, registers users, logs each in several
# times, joins every user to one room, then per scenario (each on a freshly
# restarted wsgate, so its RSS starts from a clean baseline):
#   idle   IDLE_N idle WebSockets on one wsgate process (workers = 1);
#          RSS growth per connection
#   idle2  IDLE2_N idle WebSockets on [ws] workers = 2 (SO_REUSEPORT)
#   room   ROOM_N connected room members, RATE msg/s for SECS s, direct to
#          wsgate's port: loss, duplicates, latency, wsgate CPU per copy
#   proxy  the same with PROXY_N members through lighttpd's /ws proxy
#   sat    ROOM_N members at each rate of SAT_RATES (saturation point)
# The clients are `loadpoll run -m ws` processes of at most PER_PROC
# connections each, from source addresses 127.0.0.10.. (10 per process);
# the publisher POSTs /api/send through lighttpd as in run-poll.sh.
# Results go to $OUT (default bench/results/ws-<time>): per scenario the
# raw JSON lines, the merged report, wsgate's /metrics.
#
# Environment (defaults): SB_BUILD (/tmp/sbbuild, must be built), SB_PORT
# (a free port; wsgate SB_PORT+1, admin SB_PORT+2), IDLE_N (19000),
# IDLE2_N (38000), ROOM_N (10000), PROXY_N (8000: lighttpd holds two
# descriptors per proxied socket: at 9,000 it logged "sockets disabled,
# out-of-fds" and the publisher could not get in), RATE (10),
# SAT_RATES ("20 40"), SECS
# (30), DRAIN (5), USERS (400), LOGINS (5 per user; clients reuse tokens),
# PER_PROC (9500), ROOM_WORKERS (1), OUT, BENCH_TIMEOUT (2400 s),
# KEEP_VAR=1.
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
ROOT="$(dirname "$BENCH")"
SB_BUILD="${SB_BUILD:-/tmp/sbbuild}"
IDLE_N="${IDLE_N:-19000}"
IDLE2_N="${IDLE2_N:-38000}"
ROOM_N="${ROOM_N:-10000}"
PROXY_N="${PROXY_N:-8000}"
SAT_RATES="${SAT_RATES:-20 40}"
LOGINS="${LOGINS:-5}"
PER_PROC="${PER_PROC:-9500}"
ROOM_WORKERS="${ROOM_WORKERS:-1}"
RATE="${RATE:-10}"
SECS="${SECS:-30}"
DRAIN="${DRAIN:-5}"
USERS="${USERS:-400}"
BENCH_TIMEOUT="${BENCH_TIMEOUT:-2400}"
OUT="${OUT:-$BENCH/results/ws-$(date +%Y%m%d-%H%M%S)}"
ROOM=benchroom
PASSWORD=bench-password-1
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(idle idle2 room proxy sat)

say() { printf 'run-ws: %s\n' "$*" >&2; }
die() {
    say "$*"
    exit 1
}

# ------------------------------------------------------------ setup
make -s -C "$BENCH" >/dev/null
LOADPOLL="$BENCH/loadpoll"
[ -x "$SB_BUILD/wsgate/wsgate" ] || die "$SB_BUILD/wsgate/wsgate missing: build first (make -C $SB_BUILD)"
mkdir -p "$OUT"
VAR="$(mktemp -d /tmp/sb-bench.XXXXXX)"
export SB_BUILD SB_VAR="$VAR" SB_NO_INSTALL=1 SB_NO_BUILD=1

BENCH_NAME=run-ws
. "$BENCH/run-common.sh"

cat >"$VAR/bench.ini" <<EOF
[send]
send_max = 1000000
[auth]
pw_opslimit = 1
pw_memlimit_kib = 8192
login_max_addr = 100000
login_max_user = 100000
[poll]
presence_grace = 2
[ws]
workers = 1
max_output = 1048576
EOF
. "$BENCH/stack-setup.sh"
NTOK=$((LOGINS * USERS))
{
    for u in $(seq 0 $((USERS - 1))); do
        printf 'silent\nurl = "%s/api/auth/register"\ndata = "user=bench%d&password=%s"\nmax-time = 60\n' "$URL" "$u" "$PASSWORD"
    done
} >"$VAR/register.cfg"
many "$VAR/register.cfg" >"$VAR/register.out"
{
    for r in $(seq 1 "$LOGINS"); do
        for u in $(seq 0 $((USERS - 1))); do
            printf 'silent\nurl = "%s/api/auth/login"\ndata = "user=bench%d&password=%s"\nmax-time = 120\n' "$URL" "$u" "$PASSWORD"
        done
    done
} >"$VAR/login.cfg"
t0=$SECONDS
many "$VAR/login.cfg" | jq -r 'select(.token) | "\(.user) \(.token)"' >"$VAR/logins"
cut -d' ' -f2 "$VAR/logins" >"$VAR/tokens"
NGOT=$(wc -l <"$VAR/tokens")
say "$NGOT tokens in $((SECONDS - t0)) s"
[ "$NGOT" -ge "$NTOK" ] || die "only $NGOT of $((LOGINS * USERS)) logins worked"
# One token of each user joins the room (membership is per user).
awk '!seen[$1]++ { print $2 }' "$VAR/logins" | while read -r tok; do
    printf 'silent\nurl = "%s/api/rooms/join"\ndata = "room=%s"\nheader = "Authorization: Bearer %s"\nmax-time = 30\n' "$URL" "$ROOM" "$tok"
done >"$VAR/join.cfg"
many "$VAR/join.cfg" >/dev/null
MEMBERS="$(redis SCARD "sb:members:$ROOM" 2>/dev/null || true)"
say "room $ROOM: $MEMBERS members (users $USERS + publisher)"

# ------------------------------------------------------------ scenarios
WS_URL_ADMIN="http://127.0.0.1:$SB_WS_ADMIN"
wsmetrics() { curl -s -m 5 "$WS_URL_ADMIN/metrics"; }
wsmetric() { wsmetrics | sed -n "s/^$1 //p"; }
wsgate_pid() { cat "$VAR/wsgate.pid" 2>/dev/null; }
# wsgate pids: worker 0 (wsgate.pid) and its children (workers > 1).
wsgate_pids() {
    local w0 f st rest ppid
    w0="$(wsgate_pid)"
    [ -n "$w0" ] || return 1
    printf '%s\n' "$w0"
    for f in /proc/[0-9]*/stat; do
        read -r st 2>/dev/null <"$f" || continue
        rest="${st##*) }"
        read -r _ ppid _ <<<"$rest"
        [ "$ppid" = "$w0" ] || continue
        [ "$(cat "${f%/stat}/comm" 2>/dev/null)" = wsgate ] || continue
        f="${f#/proc/}"
        printf '%s\n' "${f%/stat}"
    done
}
WORKERS_NOW=0
restart_wsgate() { # WORKERS
    (cd "$ROOT" && ./stack down wsgate) >&2 || true
    printf '\n[ws]\nworkers = %s\n' "$1" >>"$VAR/switchboard.conf"   # the last value wins
    WORKERS_NOW=$1
    (cd "$ROOT" && ./stack up wsgate) >&2
    if [ "$1" -gt 1 ]; then
        wait_for 10 bash -c "[ \$(pgrep -c -P $(wsgate_pid) -x wsgate) -ge $(($1 - 1)) ]" || say "wsgate workers missing"
    fi
    wait_for 30 presence_empty || say "presence set not empty after 30 s"
}
WSPIDS=()
stat() { # LABEL [extra NAME=PID...]
    local a=() p
    for p in "${WSPIDS[@]}"; do a+=(wsgate="$p"); done
    "$LOADPOLL" stat -l "$1" "${a[@]}" redis="$(cat "$VAR/redis.pid")" "${@:2}"
}
presence_empty() { [ "$(redis ZCARD sb:presence)" = 0 ]; }
conns_zero() { [ "$(wsmetric wsgate_connections)" = 0 ] || [ "$WORKERS_NOW" -gt 1 ]; }

# scenario NAME N RATE(0 = idle) WORKERS VIA(direct|proxy)
scenario() {
    local name="$1" n="$2" rate="$3" workers="$4" via="$5" dir="$OUT/$1" p per off lo hi pub nprocs addr path
    local loads=() extra=() budget withl=()
    mkdir -p "$dir"
    say "=== $name: $n WebSocket clients ($via, wsgate workers $workers)$([ "$rate" != 0 ] && echo ", $rate msg/s for $SECS s" || true)"
    restart_wsgate "$workers"
    mapfile -t WSPIDS < <(wsgate_pids)
    say "wsgate pids: ${WSPIDS[*]}"
    if [ "$via" = proxy ]; then
        addr="127.0.0.1:$SB_PORT"
        mapfile -t withl < <(lighttpd_stat_args)
    else
        addr="127.0.0.1:$SB_WS_PORT"
    fi
    rm -f "$dir"/ready.* "$dir"/load.*.json
    printf 'workers=%s via=%s n=%s rate=%s secs=%s\n' "$workers" "$via" "$n" "$rate" "$SECS" >"$dir/settings.txt"
    stat before "${withl[@]}" >"$dir/stats.jsonl"
    nprocs=$(((n + PER_PROC - 1) / PER_PROC))
    per=$(((n + nprocs - 1) / nprocs))
    budget=$((240 + SECS + DRAIN + 60))
    for p in $(seq 0 $((nprocs - 1))); do
        off=$((p * per))
        [ "$off" -lt "$n" ] || break
        local cnt=$((n - off < per ? n - off : per))
        lo=$((10 + p * 10))
        hi=$((lo + 9))
        "$LOADPOLL" run -a "$addr" -m ws -n "$cnt" -k "$VAR/tokens" -O "$off" \
            -b "127.0.0.$lo-127.0.0.$hi" -w "$dir/ready.$p" -W 240 -q 2000 -g "$name" -t "$budget" \
            >"$dir/load.$p.json" 2>"$dir/load.$p.err" &
        LOAD_PIDS+=($!)
        loads+=($!)
    done
    wait_for 260 bash -c "for p in \$(seq 0 $((${#loads[@]} - 1))); do [ -f '$dir/ready.'\$p ] || exit 1; done" ||
        say "load tools not ready after 260 s"
    cat "$dir"/ready.* >&2
    for p in "${loads[@]}"; do extra+=(loadpoll="$p"); done
    stat parked "${withl[@]}" "${extra[@]}" >>"$dir/stats.jsonl"
    wsmetrics >"$dir/metrics.parked.txt"
    say "wsgate worker 0: $(sed -n 's/^wsgate_connections //p' "$dir/metrics.parked.txt") connections; RSS KiB: $(for q in "${WSPIDS[@]}"; do awk '/VmRSS/{printf "%s ", $2}' /proc/$q/status; done)"
    if [ "$rate" != 0 ]; then
        redis INFO commandstats >"$dir/redis-commandstats.start.txt"
        stat start "${withl[@]}" "${extra[@]}" >>"$dir/stats.jsonl"
        "$LOADPOLL" run -a "127.0.0.1:$SB_PORT" -r "$rate" -d "$SECS" -R "$ROOM" -P "$PUB_TOKEN" -g "$name" \
            -t $((SECS + 30)) >"$dir/pub.json" 2>"$dir/pub.err" &
        pub=$!
        LOAD_PIDS+=("$pub")
        while kill -0 "$pub" 2>/dev/null; do
            stat tick "${withl[@]}" "${extra[@]}" >>"$dir/stats.jsonl"
            sleep 1
        done
        wait "$pub" || true
        sleep "$DRAIN"
        stat end "${withl[@]}" "${extra[@]}" >>"$dir/stats.jsonl"
        redis INFO commandstats >"$dir/redis-commandstats.end.txt"
    else
        sleep 5
        stat held "${withl[@]}" >>"$dir/stats.jsonl"
        wsmetrics >"$dir/metrics.held.txt"
        say "after 5 s: worker 0 holds $(sed -n 's/^wsgate_connections //p' "$dir/metrics.held.txt")"
    fi
    wsmetrics >"$dir/metrics.end.txt"
    for p in "${loads[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${loads[@]}"; do wait "$p" || true; done
    LOAD_PIDS=()
    local t0=$SECONDS
    if wait_for 30 conns_zero; then
        say "clients closed: wsgate connections 0 within $((SECONDS - t0)) s"
    else
        say "clients closed: wsgate still reports $(wsmetric wsgate_connections) after 30 s"
    fi
    stat closed >>"$dir/stats.jsonl"
    wsmetrics >"$dir/metrics.closed.txt"
    cat "$dir/stats.jsonl" "$dir"/load.*.json "$dir"/pub.json >"$dir/all.jsonl" 2>/dev/null || true
    "$LOADPOLL" report "$dir/all.jsonl" | tee "$dir/report.txt"
}

for s in "${SCENARIOS[@]}"; do
    case "$s" in
    idle) scenario idle "$IDLE_N" 0 1 direct ;;
    idle2) scenario idle2 "$IDLE2_N" 0 2 direct ;;
    room) scenario room "$ROOM_N" "$RATE" "$ROOM_WORKERS" direct ;;
    proxy) scenario proxy "$PROXY_N" "$RATE" "$ROOM_WORKERS" proxy ;;
    sat) for r in $SAT_RATES; do scenario "sat$r" "$ROOM_N" "$r" "$ROOM_WORKERS" direct; done ;;
    *) die "unknown scenario $s (idle, idle2, room, proxy, sat)" ;;
    esac
done
say "results in $OUT"

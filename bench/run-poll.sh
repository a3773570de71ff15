#!/usr/bin/env bash
# bench/run-poll.sh — the chat-poll benchmark of issue 3 (doc/benchmarks.md).
#
#   bench/run-poll.sh [park] [room] [sse]     (default: all three, in order)
#
# Starts a private stack (redis + lighttpd + the FastCGI programs) in a
# temp dir with bench settings, registers users, joins them to one room,
# logs each in several times (one token per client), then per scenario:
#   park  PARK_N long-polls parked at once; memory per parked poll
#   room  ROOM_N long-polling members of the room, RATE msg/s for SECS s
#   sse   SSE_N streams, the same room load
# and writes everything to $OUT (default bench/results/<time>): per
# scenario the raw JSON lines, the merged report, chat-poll's metrics.
# Every process it starts is bounded in time and stopped at the end.
#
# Environment (defaults): SB_BUILD (/tmp/sbbuild, must be built),
# SB_PORT (a free port), PARK_N (8000), ROOM_N (5000), SSE_N (8000),
# RATE (10), SECS (30), DRAIN (5 s after the last send), USERS (400),
# PROCS (2 load-tool processes for the clients), OUT, BENCH_TIMEOUT (2400 s),
# KEEP_VAR=1 (keep the temp dir: logs, redis data).
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
ROOT="$(dirname "$BENCH")"
SB_BUILD="${SB_BUILD:-/tmp/sbbuild}"
PARK_N="${PARK_N:-8000}"
ROOM_N="${ROOM_N:-5000}"
SSE_N="${SSE_N:-8000}"
RATE="${RATE:-10}"
SECS="${SECS:-30}"
DRAIN="${DRAIN:-5}"
USERS="${USERS:-400}"
PROCS="${PROCS:-2}"
BENCH_TIMEOUT="${BENCH_TIMEOUT:-2400}"
OUT="${OUT:-$BENCH/results/$(date +%Y%m%d-%H%M%S)}"
ROOM=benchroom
PASSWORD=bench-password-1
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(park room sse)

say() { printf 'run-poll: %s\n' "$*" >&2; }
die() {
    say "$*"
    exit 1
}

# ------------------------------------------------------------ setup
make -s -C "$BENCH" >/dev/null
LOADPOLL="$BENCH/loadpoll"
[ -x "$SB_BUILD/fcgi/chat-poll" ] || die "$SB_BUILD/fcgi/chat-poll missing: build first (make -C $SB_BUILD)"
mkdir -p "$OUT"
VAR="$(mktemp -d /tmp/sb-bench.XXXXXX)"
export SB_BUILD SB_VAR="$VAR" SB_NO_INSTALL=1 SB_NO_BUILD=1

BENCH_NAME=run-poll
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
EOF
. "$BENCH/stack-setup.sh"
NTOK=$PARK_N
[ "$ROOM_N" -gt "$NTOK" ] && NTOK=$ROOM_N
[ "$SSE_N" -gt "$NTOK" ] && NTOK=$SSE_N
LOGINS=$(((NTOK + USERS - 1) / USERS))
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
# One token of each user joins the room (membership is per user).
awk '!seen[$1]++ { print $2 }' "$VAR/logins" | while read -r tok; do
    printf 'silent\nurl = "%s/api/rooms/join"\ndata = "room=%s"\nheader = "Authorization: Bearer %s"\nmax-time = 30\n' "$URL" "$ROOM" "$tok"
done >"$VAR/join.cfg"
many "$VAR/join.cfg" >/dev/null
MEMBERS="$(redis SCARD "sb:members:$ROOM" 2>/dev/null || true)"
say "room $ROOM: $MEMBERS members (users $USERS + publisher)"

# ------------------------------------------------------------ scenarios
stat() { # LABEL [extra NAME=PID...]
    # shellcheck disable=SC2046
    "$LOADPOLL" stat -l "$1" $(lighttpd_stat_args) chat-poll="$(kid_of_lighttpd chat-poll)" \
        chat-api="$(kid_of_lighttpd chat-api)" redis="$(cat "$VAR/redis.pid")" "${@:2}"
}

no_parked() { [ "$(metric chatpoll_requests_parked)" = 0 ]; }
presence_empty() { [ "$(redis ZCARD sb:presence)" = 0 ]; }
restart_lighttpd() {
    (cd "$ROOT" && ./stack down lighttpd) >&2
    start_lighttpd
    # Users of the last scenario go offline (grace 2 s): let those
    # presence events pass before the next one connects.
    wait_for 30 presence_empty || say "presence set not empty after 30 s"
}

# scenario NAME MODE N PUBLISH(0|1)
scenario() {
    local name="$1" mode="$2" n="$3" publish="$4" dir="$OUT/$1" p per off lo hi parked pub
    local loads=() extra=() budget
    mkdir -p "$dir"
    say "=== $name: $n $mode clients$([ "$publish" = 1 ] && echo ", $RATE msg/s for $SECS s" || true)"
    restart_lighttpd
    rm -f "$dir"/ready.* "$dir"/load.*.json
    stat before >"$dir/stats.jsonl"
    per=$(((n + PROCS - 1) / PROCS))
    budget=$((180 + SECS + DRAIN + 60))
    for p in $(seq 0 $((PROCS - 1))); do
        off=$((p * per))
        [ "$off" -lt "$n" ] || break
        local cnt=$((n - off < per ? n - off : per))
        lo=$((10 + p * 10))
        hi=$((lo + 9))
        "$LOADPOLL" run -a "127.0.0.1:$SB_PORT" -m "$mode" -n "$cnt" -k "$VAR/tokens" -O "$off" \
            -b "127.0.0.$lo-127.0.0.$hi" -w "$dir/ready.$p" -W 180 -g "$name" -t "$budget" \
            >"$dir/load.$p.json" 2>"$dir/load.$p.err" &
        LOAD_PIDS+=($!)
        loads+=($!)
    done
    wait_for 200 bash -c "for p in \$(seq 0 $((${#loads[@]} - 1))); do [ -f '$dir/ready.'\$p ] || exit 1; done" ||
        say "load tools not ready after 200 s"
    cat "$dir"/ready.* >&2
    parked="$(metric chatpoll_requests_parked)"
    say "chat-poll: $parked requests parked"
    for p in "${loads[@]}"; do extra+=(loadpoll="$p"); done
    stat parked "${extra[@]}" >>"$dir/stats.jsonl"
    metrics >"$dir/metrics.parked.txt"
    if [ "$publish" = 1 ]; then
        redis INFO commandstats >"$dir/redis-commandstats.start.txt"
        stat start "${extra[@]}" >>"$dir/stats.jsonl"
        "$LOADPOLL" run -a "127.0.0.1:$SB_PORT" -r "$RATE" -d "$SECS" -R "$ROOM" -P "$PUB_TOKEN" -g "$name" \
            -t $((SECS + 30)) >"$dir/pub.json" 2>"$dir/pub.err" &
        pub=$!
        LOAD_PIDS+=("$pub")
        # A CPU timeline (one snapshot a second) shows who saturated.
        while kill -0 "$pub" 2>/dev/null; do
            stat tick "${extra[@]}" >>"$dir/stats.jsonl"
            sleep 1
        done
        wait "$pub" || true
        sleep "$DRAIN"
        stat end "${extra[@]}" >>"$dir/stats.jsonl"
        redis INFO commandstats >"$dir/redis-commandstats.end.txt"
    else
        # Hold them a little, then look again: still parked?
        sleep 5
        metrics >"$dir/metrics.held.txt"
        say "after 5 s: $(sed -n 's/^chatpoll_requests_parked //p' "$dir/metrics.held.txt") parked"
    fi
    metrics >"$dir/metrics.end.txt"
    for p in "${loads[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${loads[@]}"; do wait "$p" || true; done
    LOAD_PIDS=()
    # The clients are gone: chat-poll should free every parked request.
    local t0=$SECONDS
    if wait_for 30 no_parked; then
        say "clients closed: chat-poll freed every parked request within $((SECONDS - t0)) s"
    else
        say "clients closed: still $(metric chatpoll_requests_parked) parked after 30 s"
    fi
    metrics >"$dir/metrics.closed.txt"
    cat "$dir/stats.jsonl" "$dir"/load.*.json "$dir"/pub.json >"$dir/all.jsonl" 2>/dev/null || true
    "$LOADPOLL" report -p "${parked:-$n}" "$dir/all.jsonl" | tee "$dir/report.txt"
    grep -E '\(error\)|WARN|ERROR' "$VAR/lighttpd.log" | tail -n 20 >"$dir/lighttpd-errors.txt" || true
}

for s in "${SCENARIOS[@]}"; do
    case "$s" in
    park) scenario park poll "$PARK_N" 0 ;;
    room) scenario room poll "$ROOM_N" 1 ;;
    sse) scenario sse sse "$SSE_N" 1 ;;
    *) die "unknown scenario $s (park, room, sse)" ;;
    esac
done
say "results in $OUT"

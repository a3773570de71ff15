# bench/run-common.sh — sourced by run-poll.sh and run-ws.sh once VAR, OUT,
# ROOT, BENCH_TIMEOUT and BENCH_NAME are set: picks free ports (the stack
# also starts wsgate on SB_PORT+1 and +2), stops every process the run
# started (and the stack) on exit, and bounds the run with a watchdog.
# shellcheck shell=bash
for _tool in jq curl; do
    if ! command -v "$_tool" >/dev/null; then
        echo "$BENCH_NAME: needs $_tool (apt-get install -y $_tool)" >&2
        rm -rf "$VAR"
        exit 1
    fi
done
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if [ -z "${SB_PORT:-}" ]; then
    for _ in $(seq 50); do
        SB_PORT=$((20000 + RANDOM % 20000))
        port_free "$SB_PORT" && port_free $((SB_PORT + 1)) && port_free $((SB_PORT + 2)) && break
    done
fi
SB_WS_PORT="${SB_WS_PORT:-$((SB_PORT + 1))}"
SB_WS_ADMIN="${SB_WS_ADMIN:-$((SB_PORT + 2))}"
export SB_PORT SB_WS_PORT SB_WS_ADMIN
URL="http://127.0.0.1:$SB_PORT"

LOAD_PIDS=()
WATCHDOG=
cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    for p in "${LOAD_PIDS[@]+"${LOAD_PIDS[@]}"}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${LOAD_PIDS[@]+"${LOAD_PIDS[@]}"}"; do
        wait "$p" 2>/dev/null || true
    done
    (cd "$ROOT" && ./stack down) >&2 || true
    [ -z "$WATCHDOG" ] || kill "$WATCHDOG" 2>/dev/null || true
    cp -f "$VAR/lighttpd.log" "$OUT/lighttpd.log" 2>/dev/null || true
    cp -f "$VAR/wsgate.log" "$OUT/wsgate.log" 2>/dev/null || true
    if [ "${KEEP_VAR:-0}" != 1 ]; then rm -rf "$VAR"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# The whole run is bounded: the watchdog ends it (and cleanup runs).
bash -c 'sleep "$1" & s=$!; trap "kill $s; exit 0" TERM; wait $s
    echo "$BENCH_NAME: BENCH_TIMEOUT ($1 s) reached: stopping" >&2; kill -TERM "$2"' _ "$BENCH_TIMEOUT" $$ </dev/null >/dev/null &
WATCHDOG=$!

# bench/stack-setup.sh — sourced by run-poll.sh and run-ws.sh after they
# wrote $VAR/bench.ini: starts the stack with the bench settings, swaps in
# a lighttpd config with room for 8,000+ proxied requests, defines the
# helpers both scripts use, and creates the publisher and the room.
# shellcheck shell=bash
export SB_CONF_EXTRA="$VAR/bench.ini"
(cd "$ROOT" && ./stack up) >&2

# lighttpd with room for 8,000+ proxied requests: each holds two
# descriptors (client + backend); the hard limit here is 20,000.
HARD="$(ulimit -Hn)"
[ "$HARD" = unlimited ] && HARD=20000
MAXFDS=$((HARD < 20000 ? HARD : 20000))
MAXCONNS=$(((MAXFDS - 200) / 2))
(cd "$ROOT" && ./stack down lighttpd) >&2
sed -e "s/^server\.max-fds .*/server.max-fds              = $MAXFDS/" \
    -e "s/^server\.max-connections .*/server.max-connections      = $MAXCONNS/" \
    "$VAR/lighttpd.conf" >"$VAR/lighttpd-bench.conf"
grep -E '^server\.(max-fds|max-connections|stream-response-body|max-worker)' "$VAR/lighttpd-bench.conf" >"$OUT/lighttpd-settings.txt"
cp "$VAR/lighttpd-bench.conf" "$VAR/switchboard.conf" "$OUT/"

wait_for() { # SECONDS CMD...: 0 once CMD succeeds, 1 at the deadline
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}
lighttpd_pid() { cat "$VAR/lighttpd.pid" 2>/dev/null; }
# lighttpd=PID for the server and each of its worker processes, for
# `loadpoll stat` (which adds up the CPU and RSS of one name).
lighttpd_stat_args() {
    local lp w
    lp="$(lighttpd_pid)"
    printf 'lighttpd=%s\n' "$lp"
    for w in $(kids_of "$lp" lighttpd); do printf 'lighttpd=%s\n' "$w"; done
}
# kids_of PID NAME: the pids of PID's children called NAME, one a line.
kids_of() {
    local f st rest ppid
    for f in /proc/[0-9]*/stat; do
        read -r st 2>/dev/null <"$f" || continue
        rest="${st##*) }"
        read -r _ ppid _ <<<"$rest"
        [ "$ppid" = "$1" ] || continue
        if [ "$(cat "${f%/stat}/comm" 2>/dev/null)" = "$2" ]; then
            f="${f#/proc/}"
            printf '%s\n' "${f%/stat}"
        fi
    done
}
# (the pid of a FastCGI program: a child of lighttpd, by command name)
kid_of_lighttpd() {
    local pid
    pid="$(kids_of "$(lighttpd_pid)" "$1" | head -n 1)"
    [ -n "$pid" ] && printf '%s' "$pid"
}
http_up() { curl -s -m 2 -o /dev/null "$URL/api/poll/metrics"; }
start_lighttpd() {
    setsid lighttpd -D -f "$VAR/lighttpd-bench.conf" </dev/null >>"$VAR/lighttpd.log" 2>&1 &
    wait_for 20 http_up || die "lighttpd (bench config) did not come up; see $VAR/lighttpd.log"
    wait_for 10 kid_of_lighttpd chat-poll >/dev/null || die "no chat-poll under lighttpd"
}
start_lighttpd

metrics() { curl -s -m 5 "$URL/api/poll/metrics"; }
metric() { metrics | sed -n "s/^$1 //p"; }
redis() { redis-cli -s "$VAR/redis.sock" "$@"; }

# ------------------------------------------------------------ users
# curl --parallel over a config of many transfers; bodies are concatenated
# JSON objects on stdout.
# Each transfer of CONFIG starts with a "silent" line; "next" goes between.
many() { # CONFIG
    sed '1!s/^silent$/next\nsilent/' "$1" >"$1.k"
    curl --parallel --parallel-max 8 -K "$1.k" 2>>"$VAR/curl.err" || true   # failures: counted by the caller
}
say "registering $USERS users and logging each in; room $ROOM"
curl -s -m 10 -o /dev/null -X POST "$URL/api/auth/register" -d "user=benchpub&password=$PASSWORD"
PUB_TOKEN="$(curl -s -m 10 -X POST "$URL/api/auth/login" -d "user=benchpub&password=$PASSWORD" | jq -r .token)"
[ -n "$PUB_TOKEN" ] && [ "$PUB_TOKEN" != null ] || die "publisher login failed"
curl -s -m 10 -o /dev/null -H "Authorization: Bearer $PUB_TOKEN" -X POST "$URL/api/rooms" -d "room=$ROOM"

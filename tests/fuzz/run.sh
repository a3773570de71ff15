#!/usr/bin/env bash
# Builds the libFuzzer targets of wsgate with clang (ASan + UBSan), seeds
# each with a few valid inputs and runs each for a bounded time.
#
#   tests/fuzz/run.sh [SECONDS]     # per target, default 30
#
# Needs clang and libFuzzer's runtime (Debian 12: clang libclang-rt-14-dev)
# and the project's libraries (libwslay-dev libcjson-dev libssl-dev).
# Everything is built and run in a temporary directory; the source tree is
# not written to (FUZZ_KEEP=1 keeps the temporary directory). Exit status: 0 clean, 1 a target crashed (the input is
# kept and its path printed), 2 the build failed.
set -euo pipefail

secs=${1:-30}
case $secs in
'' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/sb-fuzz.XXXXXX")
keep=${FUZZ_KEEP:-0}
trap '[ "$keep" != 0 ] || rm -rf "$work"' EXIT

CC=${CC:-clang}
# shellcheck disable=SC2054 # the commas belong to -fsanitize=
cflags=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
cppflags=(-D_GNU_SOURCE "-I$top/lib" "-I$top/wsgate")
libs=(-lwslay -lcjson -lcrypto)
common=("$top/wsgate/handshake.c" "$top/wsgate/wsop.c" "$top/wsgate/wsin.c" "$top/lib/params.c"
    "$top/lib/valid.c" "$top/lib/xmalloc.c")
targets=(fuzz_handshake fuzz_frames)

# ------------------------------------------------------------ build

if ! command -v "$CC" >/dev/null; then
    echo "fuzz: $CC not found (Debian: apt-get install clang libclang-rt-14-dev)" >&2
    exit 2
fi
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
    >"$work/probe.c"
if ! "$CC" "${cflags[@]}" "$work/probe.c" -o "$work/probe" 2>"$work/probe.log"; then
    sed 's/^/  /' "$work/probe.log" >&2
    echo "fuzz: $CC cannot link libFuzzer (Debian: apt-get install libclang-rt-14-dev)" >&2
    exit 2
fi
for t in "${targets[@]}"; do
    if ! "$CC" "${cflags[@]}" "${cppflags[@]}" "$top/tests/fuzz/$t.c" "${common[@]}" "${libs[@]}" -o "$work/$t" 2>"$work/$t.build.log"; then
        sed 's/^/  /' "$work/$t.build.log" >&2
        echo "fuzz: building $t failed" >&2
        exit 2
    fi
done

# ------------------------------------------------------------ seeds

key=dGhlIHNhbXBsZSBub25jZQ==
mkdir -p "$work/corpus/fuzz_handshake" "$work/corpus/fuzz_frames"
seed() { cat >"$work/corpus/$1/$2"; }

crlf() { sed 's/$/\r/'; }
crlf <<EOF | seed fuzz_handshake upgrade
GET /ws HTTP/1.1
Host: chat.example
Upgrade: websocket
Connection: Upgrade
Sec-WebSocket-Key: $key
Sec-WebSocket-Version: 13

EOF
crlf <<EOF | seed fuzz_handshake upgrade-full
GET /ws?cursor=1700000000000-0 HTTP/1.1
host: chat.example:8080
Origin: https://chat.example
Cookie: sb_session=abc; theme=dark
Authorization: Bearer 0123456789abcdef
upgrade: WebSocket
connection: keep-alive, Upgrade
sec-websocket-key:   $key
sec-websocket-version: 13
User-Agent: seed

EOF
crlf <<EOF | seed fuzz_handshake version-8
GET /ws HTTP/1.1
Host: chat.example
Upgrade: websocket
Connection: Upgrade
Sec-WebSocket-Key: $key
Sec-WebSocket-Version: 8

EOF

# frame FIN+OPCODE PAYLOAD: one client frame, masked with the RFC 6455
# example key 37 fa 21 3d. Lengths up to 65535.
frame() {
    local b0=$1 payload=$2 n i mask=(0x37 0xfa 0x21 0x3d) bytes
    n=${#payload}
    byte "$b0"
    if [ "$n" -lt 126 ]; then
        byte $((0x80 | n))
    else
        byte $((0x80 | 126))
        byte $((n >> 8))
        byte $((n & 255))
    fi
    for i in "${mask[@]}"; do byte "$i"; done
    read -r -a bytes < <(printf %s "$payload" | od -An -v -tu1 | tr '\n' ' '; echo)
    for ((i = 0; i < ${#bytes[@]}; i++)); do
        byte $((bytes[i] ^ mask[i % 4]))
    done
}
byte() { printf '%b' "\\x$(printf %02x "$1")"; }
FIN=0x80 TEXT=1 BIN=2 CONT=0 CLOSE=8 PING=9
export LC_ALL=C
frame $((FIN | TEXT)) '{"op":"ping"}' | seed fuzz_frames text-ping
frame $((FIN | TEXT)) '{"op":"send","room":"#lobby","text":"caf'$'\xc3\xa9''","cid":"c1"}' | seed fuzz_frames text-send
{
    frame $TEXT '{"op":"typ'
    frame $((FIN | PING)) 'hb'
    frame $CONT 'ing","to":"b'
    frame $((FIN | CONT)) 'ob"}'
} | seed fuzz_frames fragmented
frame $((FIN | PING)) 'are you there' | seed fuzz_frames ping
frame $((FIN | CLOSE)) $'\x03\xe8bye' | seed fuzz_frames close
frame $((FIN | BIN)) '{"op":"ping"}' | seed fuzz_frames binary
frame $((FIN | TEXT)) "{\"op\":\"send\",\"to\":\"bob\",\"text\":\"$(printf '%0200d' 0)\"}" | seed fuzz_frames text-16bit-length
{
    frame $((FIN | TEXT)) '{"op":"resume","cursor":"1700000000000-0"}'
    frame $((FIN | TEXT)) $'\xff'
    frame $((FIN | CLOSE)) ''
} | seed fuzz_frames stream

# ------------------------------------------------------------ run

crashes=0
report=""
for t in "${targets[@]}"; do
    mkdir -p "$work/artifacts/$t"
    echo "fuzz: $t for ${secs}s"
    set +e
    (cd "$work" && "./$t" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 -max_len=16384 \
        -print_final_stats=1 -artifact_prefix="$work/artifacts/$t/" "$work/corpus/$t") >"$work/$t.log" 2>&1
    rc=$?
    set -e
    tail -n 12 "$work/$t.log" | grep -E '^(stat::|#[0-9]+ +DONE)' | sed "s/^/  $t: /" || true
    if [ "$rc" != 0 ] || [ -n "$(ls -A "$work/artifacts/$t")" ]; then
        crashes=$((crashes + 1))
        keep=1
        grep -E 'ERROR:|SUMMARY:|runtime error|Test unit written' "$work/$t.log" | sed "s/^/  $t: /" || true
        report="$report $t (exit $rc, log $work/$t.log, inputs:$(printf ' %s' "$work/artifacts/$t"/*))"
    fi
done

[ "$keep" = 0 ] || echo "fuzz: kept $work"
if [ "$crashes" = 0 ]; then
    echo "fuzz: ${#targets[@]} targets, 0 crashes"
    exit 0
fi
echo "fuzz: ${#targets[@]} targets, $crashes crashed:$report"
exit 1

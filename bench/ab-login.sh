#!/usr/bin/env bash
# A/B of the login rate of two hongyand binaries, alternated run by run, so that a machine
# whose speed drifts (steal time on a shared host) affects both alike.
#
#   bench/ab-login.sh OLD_HONGYAND NEW_HONGYAND
#
# Each run starts the binary on a fresh data directory, registers USERS accounts, restarts
# it, and runs `hongyan-bench login-rate` against it. Per run it prints the load
# generator's figures and the server's context switches per login (all of its threads,
# warm-up included).
#
# Environment (defaults in brackets):
#   ROUNDS [4]        pairs of runs             DURATION [20]   measured seconds per run
#   WARMUP [2]        seconds before measuring  TLS [none]      none | starttls | direct
#   CONCURRENCY [50]  login-rate workers        USERS [1000]    accounts bench0..
#   PORT [36222]      c2s port (and PORT+1)     EXTRA []        more --set flags for both
#   BENCH [build/hongyan-bench]
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
[[ $# -eq 2 ]] || { echo "usage: $0 OLD_HONGYAND NEW_HONGYAND" >&2; exit 2; }
A=$(realpath "$1") B=$(realpath "$2")
ROUNDS=${ROUNDS:-4} DURATION=${DURATION:-20} WARMUP=${WARMUP:-2} TLS=${TLS:-none}
CONCURRENCY=${CONCURRENCY:-50} USERS=${USERS:-1000} PORT=${PORT:-36222} EXTRA=${EXTRA:-}
BENCH=$(realpath "${BENCH:-$ROOT/build/hongyan-bench}")
PASSWORD=benchpass123
WORK=$(mktemp -d /tmp/hongyan-ab.XXXXXX)
SERVER_PID=
cleanup() {
    [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" \
    -days 2 -subj /CN=localhost 2>/dev/null

start() {  # binary, data directory
    local extra=()
    [[ -n $EXTRA ]] && read -ra extra <<<"$EXTRA"
    "$1" --set server.data_dir="$2" --set c2s.port=$PORT --set c2s.tls_port=$((PORT + 1)) \
        --set c2s.address=127.0.0.1 --set limits.max_connections_per_ip=0 \
        --set register.policy=open --set register.per_ip_per_hour=0 \
        --set auth.failures_per_ip=0 --set log.level=warn --set c2s.require_tls=false \
        --set tls.cert_file="$WORK/cert.pem" --set tls.key_file="$WORK/key.pem" \
        "${extra[@]}" >>"$2/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 100); do
        (echo >/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && return
        kill -0 $SERVER_PID 2>/dev/null || { cat "$2/server.log" >&2; exit 1; }
        sleep 0.1
    done
    echo "$1 did not open port $PORT" >&2
    exit 1
}

stop() {
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

run() {  # label, binary
    local data=$WORK/data-$1 out switches logins
    rm -rf "$data" && mkdir -p "$data"
    start "$2" "$data"
    "$BENCH" register --port $PORT --tls none --concurrency 10 --sources 4 --users "$USERS" \
        --password $PASSWORD >>"$data/register.log" 2>&1 || { cat "$data/register.log" >&2; exit 1; }
    stop
    start "$2" "$data"
    out=$("$BENCH" login-rate --port $PORT --tls "$TLS" --concurrency "$CONCURRENCY" \
        --duration "$DURATION" --warmup "$WARMUP" --threads 2 --server-pid "$SERVER_PID" \
        --sources 4 --users "$USERS" --password $PASSWORD 2>/dev/null | grep '^RESULT')
    switches=$(cat /proc/"$SERVER_PID"/task/*/status | awk '/ctxt_switches/ {s += $2} END {print s}')
    stop
    logins=$(grep -o ' logins=[0-9]*' <<<"$out" | cut -d= -f2)
    printf '%s %s %s switches_per_login=%s\n' "$1" \
        "$(grep -o 'logins_per_s=[0-9.]*' <<<"$out")" \
        "$(grep -o 'server_cpu_ms_per_login=[0-9.]*' <<<"$out")" \
        "$(awk -v s="$switches" -v l="$logins" 'BEGIN {printf "%.2f", l ? s / l : 0}')"
}

echo "A: $A"
echo "B: $B"
echo "tls=$TLS, $ROUNDS rounds of $DURATION s, $CONCURRENCY workers, load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$ROUNDS"); do
    # Alternate which goes first, so neither always follows a warm cache.
    if ((r % 2)); then run A "$A"; run B "$B"; else run B "$B"; run A "$A"; fi
done

#!/usr/bin/env bash
# Side-by-side benchmark of hongyand, Prosody and ejabberd on this machine, with the
# project's own load generator (hongyan-bench). For each server:
#
#   1. start it on a fresh temporary data directory and register the benchmark accounts
#      in-band (XEP-0077, over STARTTLS);
#   2. with TLS optional: N idle sessions without TLS (server memory per session), then,
#      on a restarted server, the login-rate run without TLS;
#   3. the same with TLS required: N idle sessions over STARTTLS, then the login-rate run
#      over STARTTLS;
#   4. with TLS optional and no TLS: chat (PAIRS pairs of users sending each other messages,
#      WINDOW in flight per sender: delivered messages/s at saturation), paced (RATE
#      messages/s in all: latency under a steady load), roster (bench0's roster filled to
#      ROSTER_ITEMS, then ROSTER_FETCHES roster gets, one after another).
#   5. offline (hongyand and hongyand-pg): PAIRS senders each send OFFLINE_MESSAGES chat
#      messages to a receiver who is offline, OFFLINE_WINDOW per ping, so offline storage is
#      in the path of every message (stored/s); then the receivers come online and take
#      them (delivered/s).
#   6. everyone (hongyand only, not in the default SCENARIOS): for each N in EVERYONE_USERS,
#      a fresh server with shared_groups.everyone on a data directory of its own with N
#      accounts; EVERYONE_ONLINE of them log in, then a versioned roster get, EVERYONE_REGS
#      registrations and one more login (see src/tools/bench/everyone.cpp).
#
# Each of these measurements runs against a freshly started server.
#
# Every server runs in the foreground as a child of this script, on its own ports, with a
# configuration written to a temporary directory, and is stopped at the end (also on error
# or Ctrl-C). The script prints a Markdown table with ratios relative to hongyand.
#
# Environment (defaults in brackets):
#   N [10000]            idle sessions per run        USERS [1000]     accounts bench0..
#   HOLD [10]            seconds idle sessions stay    SETTLE [5]       seconds before reading RSS
#   DURATION [20]        seconds of login-rate         WARMUP [3]       seconds before measuring
#   LOGIN_CONCURRENCY [50]  login-rate workers         IDLE_CONCURRENCY [200]  logins at once
#   SOURCES [4]          client source addresses 127.0.0.1..127.0.0.K
#   SCENARIOS ["idle login-rate chat paced roster"]    the measurements to run
#   PAIRS [100]          chat and paced pairs (2 x PAIRS <= USERS)
#   WINDOW [10]          chat messages in flight per sender
#   RATE [2000]          paced messages/s in all     MSG_DURATION [DURATION]  chat and paced
#   ROSTER_ITEMS [1000]  roster size                 ROSTER_FETCHES [200]     roster gets
#   EVERYONE_USERS ["1000 10000"]  accounts per everyone run   EVERYONE_ONLINE [999]   online
#   EVERYONE_REGS [10]   registrations while online  EVERYONE_CONCURRENCY [10]  logins at once
#   OFFLINE_MESSAGES [100]  offline messages per receiver   OFFLINE_WINDOW [20]  per ping
#   MAM [0]              1: every server archives chat messages (hongyand's mam module,
#                        Prosody's mod_mam, ejabberd's mod_mam, each with its default
#                        storage and every conversation archived); 0: none does (hongyand
#                        with modules.disabled=mam)
#   SERVERS ["hongyand prosody ejabberd"]              BASE_PORT [35222]
#            hongyand-pg is hongyand on PostgreSQL: a throwaway server of the script's own
#            (tests/pg-throwaway.sh), one database for the whole run
#   HONGYAND [build/hongyand, or build-clang/hongyand when build/ is a GCC 12 build]
#   BENCH [hongyan-bench beside HONGYAND, else build-bench/hongyan-bench]
#   KEEP [0]             1 keeps the temporary directory (configs, logs, results.log)
#
# Quick check: N=500 USERS=50 PAIRS=20 DURATION=5 HOLD=3 SETTLE=2 ROSTER_FETCHES=20 bench/compare.sh
# Messaging only: SCENARIOS="chat paced roster" bench/compare.sh
# Chat with every archive on: MAM=1 SCENARIOS="chat paced" bench/compare.sh
# Everyone group: SCENARIOS=everyone SERVERS=hongyand bench/compare.sh
# SQLite against PostgreSQL: SERVERS="hongyand hongyand-pg" SCENARIOS="login-rate chat offline roster" bench/compare.sh
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-10000}
USERS=${USERS:-1000}
HOLD=${HOLD:-10}
SETTLE=${SETTLE:-5}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
LOGIN_CONCURRENCY=${LOGIN_CONCURRENCY:-50}
IDLE_CONCURRENCY=${IDLE_CONCURRENCY:-200}
SOURCES=${SOURCES:-4}
SCENARIOS=${SCENARIOS:-"idle login-rate chat paced roster"}
PAIRS=${PAIRS:-100}
WINDOW=${WINDOW:-10}
RATE=${RATE:-2000}
MAM=${MAM:-0}
MSG_DURATION=${MSG_DURATION:-$DURATION}
ROSTER_ITEMS=${ROSTER_ITEMS:-1000}
ROSTER_FETCHES=${ROSTER_FETCHES:-200}
EVERYONE_USERS=${EVERYONE_USERS:-"1000 10000"}
EVERYONE_ONLINE=${EVERYONE_ONLINE:-999}
EVERYONE_REGS=${EVERYONE_REGS:-10}
EVERYONE_CONCURRENCY=${EVERYONE_CONCURRENCY:-10}
OFFLINE_MESSAGES=${OFFLINE_MESSAGES:-100}
OFFLINE_WINDOW=${OFFLINE_WINDOW:-20}
SERVERS=${SERVERS:-"hongyand prosody ejabberd"}
BASE_PORT=${BASE_PORT:-35222}
KEEP=${KEEP:-0}
PASSWORD=benchpass123

log() { printf '[compare %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# GCC 12 miscompiles hongyand's coroutines (see CMakeLists.txt), so a build made with it
# is not worth measuring.
built_by_gcc12() {
    grep -qs 'set(CMAKE_CXX_COMPILER_VERSION "12\.' "$1"/CMakeFiles/*/CMakeCXXCompiler.cmake &&
        grep -qs 'set(CMAKE_CXX_COMPILER_ID "GNU")' "$1"/CMakeFiles/*/CMakeCXXCompiler.cmake
}
if [[ -z ${HONGYAND:-} ]]; then
    HONGYAND=$ROOT/build/hongyand
    if [[ ! -x $HONGYAND ]] || built_by_gcc12 "$ROOT/build"; then
        [[ -x $HONGYAND ]] && log "build/hongyand was built with GCC 12; using build-clang/hongyand"
        HONGYAND=$ROOT/build-clang/hongyand
    fi
fi

# The load generator from the same build as hongyand (make bench), else build-bench/.
if [[ -z ${BENCH:-} ]]; then
    BENCH=$(dirname "$HONGYAND")/hongyan-bench
    [[ -x $BENCH ]] || BENCH=$ROOT/build-bench/hongyan-bench
fi
[[ -x $BENCH ]] || die "no load generator at $BENCH (cmake --build build-bench --target hongyan-bench)"
for sc in $SCENARIOS; do
    case $sc in
        idle | login-rate | chat | paced | offline | roster | everyone) ;;
        *) die "unknown scenario '$sc'" ;;
    esac
done
wants() { [[ " $SCENARIOS " == *" $1 "* ]]; }
if (wants chat || wants paced || wants offline) && ((2 * PAIRS > USERS)); then
    die "PAIRS=$PAIRS pairs need $((2 * PAIRS)) accounts; USERS is $USERS"
fi
for n in $EVERYONE_USERS; do
    if wants everyone && ((EVERYONE_ONLINE + 1 > n)); then
        die "EVERYONE_ONLINE=$EVERYONE_ONLINE and one more need $((EVERYONE_ONLINE + 1)) accounts; EVERYONE_USERS has $n"
    fi
done
for s in $SERVERS; do
    case $s in
        hongyand) [[ -x $HONGYAND ]] || die "no hongyand at $HONGYAND" ;;
        hongyand-pg)
            [[ -x $HONGYAND ]] || die "no hongyand at $HONGYAND"
            ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || die "no PostgreSQL server (apt-get install postgresql-15)"
            ;;
        prosody) command -v prosody >/dev/null || die "prosody is not installed" ;;
        ejabberd) command -v ejabberdctl >/dev/null || die "ejabberd is not installed" ;;
        *) die "unknown server '$s'" ;;
    esac
done

WORK=$(mktemp -d /tmp/hongyan-compare.XXXXXX)
chmod 755 "$WORK"  # ejabberd runs as its own user and must reach its directory
RESULTS=$WORK/results.log
: >"$RESULTS"
PG_DIR=$WORK/pg    # hongyand-pg's PostgreSQL server, started at its first use
SERVER_PID=""      # the process we started (waited for at the end)
MEASURE_PID=""     # the process whose memory and CPU are measured

# The servers' own system instances would hold ports, CPU and memory: stop them.
stop_system_services() {
    if [[ -f /run/prosody/prosody.pid ]] && kill -0 "$(cat /run/prosody/prosody.pid)" 2>/dev/null; then
        log "stopping the system Prosody"
        service prosody stop || prosodyctl stop || true
    fi
    if pgrep -f -- '-sname ejabberd@localhost' >/dev/null 2>&1; then
        log "stopping the system ejabberd"
        service ejabberd stop || ejabberdctl stop || true
    fi
}

stop_server() {
    [[ -n $SERVER_PID ]] || return 0
    local pid=$SERVER_PID target=${MEASURE_PID:-$SERVER_PID}
    kill -TERM "$target" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "server $pid did not stop in 10 s; killing it"
        kill -KILL "$target" 2>/dev/null || true
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    SERVER_PID="" MEASURE_PID=""
}

cleanup() {
    stop_server
    if [[ -f $PG_DIR/url ]]; then "$ROOT/tests/pg-throwaway.sh" stop "$PG_DIR" >/dev/null 2>&1 || true; fi
    if [[ $KEEP == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for_port() {  # port, log file
    for _ in $(seq 300); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    tail -n 30 "$2" >&2 || true
    die "server did not listen on port $1"
}

# The first descendant of $1 whose command name is $2 (ejabberdctl -> su -> sh -> beam.smp).
descendant_named() {
    local queue=("$1") p c
    while ((${#queue[@]})); do
        p=${queue[0]}
        queue=("${queue[@]:1}")
        for c in $(pgrep -P "$p" || true); do
            [[ $(cat "/proc/$c/comm" 2>/dev/null) == "$2" ]] && { echo "$c"; return 0; }
            queue+=("$c")
        done
    done
    return 1
}

# One self-signed ECDSA P-256 certificate for all servers (what hongyand generates itself).
CERT=$WORK/cert.pem KEY=$WORK/key.pem
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$KEY" -out "$CERT" \
    -days 7 -subj /CN=localhost -addext subjectAltName=DNS:localhost 2>/dev/null
cat "$CERT" "$KEY" >"$WORK/cert-key.pem"
chmod 644 "$KEY" "$WORK/cert-key.pem"

# --- hongyand ----------------------------------------------------------------------------
# HONGYAND_DATA: another data directory; HONGYAND_EXTRA: more --set flags (one string);
# HONGYAND_DIR: where its binary copy and log go.
start_hongyand() {  # mode: plain (TLS optional) or tls (TLS required)
    local dir=${HONGYAND_DIR:-$WORK/hongyand} require_tls=true
    local data=${HONGYAND_DATA:-$dir/data}
    local extra=()
    [[ $1 == plain ]] && require_tls=false
    [[ -n ${HONGYAND_EXTRA:-} ]] && read -ra extra <<<"$HONGYAND_EXTRA"
    [[ $MAM == 1 ]] || extra+=(--set modules.disabled=mam)
    mkdir -p "$dir" "$data"
    [[ -x $dir/hongyand ]] || cp "$HONGYAND" "$dir/hongyand"  # a rebuild must not swap it mid-run
    PORT=$BASE_PORT TLS_PORT=$((BASE_PORT + 1))
    (cd "$dir" && exec ./hongyand --set server.data_dir="$data" --set c2s.port=$PORT \
        --set c2s.tls_port=$TLS_PORT --set c2s.address=127.0.0.1 \
        --set limits.max_connections_per_ip=0 --set register.policy=open \
        --set register.per_ip_per_hour=0 --set auth.failures_per_ip=0 --set log.level=warn \
        --set tls.cert_file="$CERT" --set tls.key_file="$KEY" \
        --set c2s.require_tls=$require_tls "${extra[@]}") >>"$dir/server.log" 2>&1 &
    SERVER_PID=$! MEASURE_PID=$!
    wait_for_port $PORT "$dir/server.log"
}

# --- hongyand on PostgreSQL ---------------------------------------------------------------
# PostgreSQL keeps its crash safety (fsync) and, like SQLite in WAL mode with
# synchronous=NORMAL, does not wait for the disk at each commit (synchronous_commit=off):
# both may lose the last commits in a power cut, neither corrupts.
start_hongyand-pg() {  # mode, as start_hongyand
    if [[ ! -f $PG_DIR/url ]]; then
        PG_SETTINGS="-c synchronous_commit=off" "$ROOT/tests/pg-throwaway.sh" start "$PG_DIR" >/dev/null
        psql "$(cat "$PG_DIR/url")" -qc "CREATE DATABASE hongyan_bench"
    fi
    local url
    url=$(sed 's|///postgres?|///hongyan_bench?|' "$PG_DIR/url")
    HONGYAND_DIR=$WORK/hongyand-pg \
        HONGYAND_EXTRA="${HONGYAND_EXTRA:-} --set storage.backend=postgresql --set storage.postgresql.url=$url" \
        start_hongyand "$1"
}

# --- Prosody -----------------------------------------------------------------------------
start_prosody() {
    local dir=$WORK/prosody require=true
    [[ $1 == plain ]] && require=false
    mkdir -p "$dir/data" "$dir/certs"
    PORT=$((BASE_PORT + 10)) TLS_PORT=$((BASE_PORT + 11))
    cat >"$dir/prosody.cfg.lua" <<EOF
-- Written by hongyan bench/compare.sh; mode $1.
run_as_root = true
pidfile = "$dir/prosody.pid"
data_path = "$dir/data"
certificates = "$dir/certs"
log = { { levels = { min = "warn" }, to = "file", filename = "$dir/prosody.log" } }
network_backend = "epoll"
network_settings = { tcp_backlog = 1024, nagle = false }
interfaces = { "127.0.0.1" }
c2s_ports = { $PORT }
c2s_direct_tls_ports = { $TLS_PORT }
modules_enabled = { "roster", "saslauth", "tls", "disco", "register", "ping", "version"$([[ $MAM == 1 ]] && echo ', "mam"') }
default_archive_policy = true
archive_expires_after = "never"
modules_disabled = { "s2s", "offline" }
authentication = "internal_hashed"
storage = "internal"
allow_registration = true
registration_allowlist = { "127.0.0.0/8" }
c2s_require_encryption = $require
allow_unencrypted_plain_auth = $([[ $1 == plain ]] && echo true || echo false)
ssl = { key = "$KEY", certificate = "$CERT" }
VirtualHost "localhost"
    ssl = { key = "$KEY", certificate = "$CERT" }
EOF
    prosody -F --config "$dir/prosody.cfg.lua" >>"$dir/server.log" 2>&1 &
    SERVER_PID=$! MEASURE_PID=$!  # /usr/bin/prosody execs lua5.4: the same process
    wait_for_port $PORT "$dir/prosody.log"
}

# --- ejabberd ----------------------------------------------------------------------------
start_ejabberd() {
    local dir=$WORK/ejabberd required=true
    [[ $1 == plain ]] && required=false
    mkdir -p "$dir/spool" "$dir/logs"
    PORT=$((BASE_PORT + 20)) TLS_PORT=$((BASE_PORT + 21))
    # ERL_DIST_PORT makes Erlang distribution use a fixed port instead of starting epmd,
    # which would otherwise stay behind as a daemon.
    cat >"$dir/ejabberdctl.cfg" <<EOF
ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"
ERL_DIST_PORT=$((BASE_PORT + 29))
EOF
    cat >"$dir/ejabberd.yml" <<EOF
# Written by hongyan bench/compare.sh; mode $1.
hosts:
  - localhost
loglevel: warning
log_rotate_count: 0
certfiles:
  - "$WORK/cert-key.pem"
auth_method: internal
auth_password_format: scram
auth_scram_hash: sha
registration_timeout: infinity
listen:
  -
    port: $PORT
    ip: "127.0.0.1"
    module: ejabberd_c2s
    backlog: 1024
    max_stanza_size: 262144
    shaper: none
    access: c2s
    starttls: true
    starttls_required: $required
  -
    port: $TLS_PORT
    ip: "127.0.0.1"
    module: ejabberd_c2s
    backlog: 1024
    max_stanza_size: 262144
    shaper: none
    access: c2s
    tls: true
acl:
  local:
    user_regexp: ""
access_rules:
  c2s:
    allow: all
  register:
    allow: all
modules:
  mod_roster: {}
  mod_disco: {}
  mod_ping: {}
  mod_version: {}
$([[ $MAM == 1 ]] && printf '  mod_mam:\n    default: always\n')
  mod_register:
    access: register
    ip_access: all
    password_strength: 0
EOF
    chown -R ejabberd:ejabberd "$dir"
    # Run as the ejabberd user already: started as root, ejabberdctl would switch with su,
    # whose PAM session resets the open-files limit to 1024 and ejabberd fails to accept
    # more than about a thousand connections. setpriv keeps our limit.
    local as_ejabberd=()
    [[ $(id -u) == 0 ]] && as_ejabberd=(setpriv --reuid=ejabberd --regid=ejabberd --init-groups)
    HOME=$dir "${as_ejabberd[@]}" ejabberdctl --ctl-config "$dir/ejabberdctl.cfg" \
        --config "$dir/ejabberd.yml" --spool "$dir/spool" --logs "$dir/logs" \
        --node hybench@localhost foreground >>"$dir/server.log" 2>&1 &
    SERVER_PID=$!
    wait_for_port $PORT "$dir/logs/ejabberd.log"
    MEASURE_PID=$(descendant_named "$SERVER_PID" beam.smp) || die "no beam.smp under ejabberdctl"
}

# --- runs --------------------------------------------------------------------------------
# CPU milliseconds the PostgreSQL server has used so far: the postmaster, its running
# backends, and (cutime, cstime) the backends that have exited.
pg_cpu_ms() {
    local pm pids p
    [[ -f $PG_DIR/data/postmaster.pid ]] || { echo -; return; }
    pm=$(head -n1 "$PG_DIR/data/postmaster.pid")
    pids="$pm $(pgrep -P "$pm" | tr '\n' ' ')"
    for p in $pids; do sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null || true; done |
        awk -v hz="$(getconf CLK_TCK)" '{ t += $12 + $13 + $14 + $15 } END { printf "%.0f", t * 1000 / hz }'
}

bench() {  # name, subcommand, args...; BENCH_USERS overrides USERS
    local name=$1
    shift
    local out db0=-
    [[ $name == hongyand-pg ]] && db0=$(pg_cpu_ms)
    log "$name: hongyan-bench $*"
    out=$("$BENCH" "$@" --sources "$SOURCES" --users "${BENCH_USERS:-$USERS}" --password "$PASSWORD" \
        2> >(sed "s/^/    /" >&2)) || log "$name: hongyan-bench reported failures (exit $?)"
    printf '%s\n' "$out" >&2
    # hongyand-pg: the database server's CPU during the run (all of it, set-up included).
    local db=""
    [[ $db0 != - ]] && db=" db_cpu_ms=$(($(pg_cpu_ms) - db0))"
    grep '^RESULT' <<<"$out" | sed "s/^RESULT /RESULT server=$name /; s/\$/$db/" >>"$RESULTS" || true
}

run_server() {
    local name=$1 mode tls
    log "=== $name (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
    "start_$name" tls
    bench "$name" register --port $PORT --tls starttls --concurrency 10
    stop_server

    # Every measurement gets a freshly started server, so none inherits the heap, caches
    # or garbage of the one before.
    for mode in plain tls; do
        tls=none
        [[ $mode == tls ]] && tls=starttls
        if wants idle; then
            "start_$name" $mode
            log "$name ($mode) started: pid $MEASURE_PID, rss $(awk '/VmRSS/ {print $2}' /proc/$MEASURE_PID/status) KiB"
            bench "$name" idle --port $PORT --tls $tls -n "$N" --concurrency "$IDLE_CONCURRENCY" \
                --hold "$HOLD" --settle "$SETTLE" --server-pid "$MEASURE_PID"
            stop_server
        fi
        if wants login-rate; then
            "start_$name" $mode
            bench "$name" login-rate --port $PORT --tls $tls --concurrency "$LOGIN_CONCURRENCY" \
                --duration "$DURATION" --warmup "$WARMUP" --threads 2 --server-pid "$MEASURE_PID"
            stop_server
        fi
    done

    # Messaging and roster without TLS: what routing and storage cost, not encryption.
    # Roster last: it leaves bench0 with ROSTER_ITEMS contacts in its roster.
    if wants chat; then
        "start_$name" plain
        bench "$name" chat --port $PORT --tls none --pairs "$PAIRS" --window "$WINDOW" \
            --duration "$MSG_DURATION" --warmup "$WARMUP" --threads 2 --server-pid "$MEASURE_PID"
        stop_server
    fi
    if wants paced; then
        "start_$name" plain
        bench "$name" paced --port $PORT --tls none --pairs "$PAIRS" --rate "$RATE" \
            --duration "$MSG_DURATION" --warmup "$WARMUP" --server-pid "$MEASURE_PID"
        stop_server
    fi
    if wants offline; then
        if [[ $name == hongyand || $name == hongyand-pg ]]; then
            "start_$name" plain
            bench "$name" offline --port $PORT --tls none --pairs "$PAIRS" \
                -m "$OFFLINE_MESSAGES" --window "$OFFLINE_WINDOW" --threads 2 \
                --server-pid "$MEASURE_PID"
            stop_server
        else
            log "$name: offline skipped (its offline storage is off in this script's configuration)"
        fi
    fi
    if wants roster; then
        "start_$name" plain
        bench "$name" roster --port $PORT --tls none --items "$ROSTER_ITEMS" \
            --fetches "$ROSTER_FETCHES" --server-pid "$MEASURE_PID"
        stop_server
    fi
    if wants everyone; then
        if [[ $name != hongyand ]]; then
            log "$name: everyone skipped (no everyone-group configuration for $name here)"
            return 0
        fi
        local n
        for n in $EVERYONE_USERS; do
            # A data directory per N, registered with the group off (no pushes to anyone),
            # measured on a fresh server with it on.
            HONGYAND_DATA=$WORK/hongyand/everyone-$n
            start_hongyand plain
            BENCH_USERS=$n bench "$name" register --port $PORT --tls none --concurrency 10
            stop_server
            HONGYAND_EXTRA="--set shared_groups.everyone=Everyone" start_hongyand plain
            BENCH_USERS=$n bench "$name" everyone --port $PORT --tls none \
                --online "$EVERYONE_ONLINE" -k "$EVERYONE_REGS" \
                --concurrency "$EVERYONE_CONCURRENCY" --threads 2 --server-pid "$MEASURE_PID"
            stop_server
            unset HONGYAND_DATA
        done
    fi
}

ulimit -n "$(ulimit -Hn)"
stop_system_services
log "machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MiB; N=$N USERS=$USERS; scenarios: $SCENARIOS"
log "hongyand: $HONGYAND ($("$HONGYAND" --version 2>/dev/null || echo '?'), built $(date -r "$HONGYAND" '+%F %T'), md5 $(md5sum <"$HONGYAND" | cut -c1-12)); bench: $BENCH"
log "prosody $(dpkg-query -W -f='${Version}' prosody 2>/dev/null); ejabberd $(dpkg-query -W -f='${Version}' ejabberd 2>/dev/null)"
for s in $SERVERS; do run_server "$s"; done

# --- report ------------------------------------------------------------------------------
field() {  # server, scenario, tls, key
    awk -v s="server=$1" -v sc="$2" -v t="tls=$3" -v k="$4=" '
        $1 == "RESULT" && $2 == s && $3 == sc {
            hit = 0; v = "-"
            for (i = 4; i <= NF; i++) {
                if ($i == t) hit = 1
                if (index($i, k) == 1) v = substr($i, length(k) + 1)
            }
            if (hit) print v
        }' "$RESULTS" | tail -n 1
}
ratio() {  # value, reference
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "" || b == "" || a == "-" || b == "-" || b + 0 == 0) print "-"
        else printf "%.2f", a / b }'
}

table() {  # title, then "scenario tls key|heading" per column; columns of scenarios not run are left out
    local title=$1 c sc tls key v r s header="| server |" rule="| --- |" row
    shift
    local cols=()
    for c in "$@"; do
        read -r sc _ <<<"$c"
        wants "$sc" && cols+=("$c")
    done
    ((${#cols[@]})) || return 0
    echo
    echo "$title"
    echo
    for c in "${cols[@]}"; do header+=" ${c#*|} |"; rule+=" ---: |"; done
    echo "$header"
    echo "$rule"
    for s in $SERVERS; do
        row="| $s |"
        for c in "${cols[@]}"; do
            read -r sc tls key <<<"${c%%|*}"
            v=$(field "$s" "$sc" "$tls" "$key")
            r=""
            if [[ $s != hongyand && $SERVERS == *hongyand* ]]; then
                r=" (x$(ratio "$v" "$(field hongyand "$sc" "$tls" "$key")"))"
            fi
            row+=" ${v:--}$r |"
        done
        echo "$row"
    done
}

table "Results (N=$N idle sessions, $USERS accounts, login-rate $LOGIN_CONCURRENCY workers x ${DURATION} s; $(nproc) cores)" \
    "idle none kib_per_conn|KiB/idle conn, no TLS" \
    "idle starttls kib_per_conn|KiB/idle conn, STARTTLS" \
    "login-rate starttls logins_per_s|logins/s, STARTTLS" \
    "login-rate starttls server_cpu_ms_per_login|server CPU ms/login, STARTTLS" \
    "login-rate none logins_per_s|logins/s, no TLS" \
    "login-rate none server_cpu_ms_per_login|server CPU ms/login, no TLS"
table "Messaging and roster, no TLS (chat: $PAIRS pairs, window $WINDOW, ${MSG_DURATION} s; paced: $RATE msgs/s; offline: $PAIRS x $OFFLINE_MESSAGES msgs, $OFFLINE_WINDOW per ping; roster: $ROSTER_ITEMS items, $ROSTER_FETCHES gets; $(nproc) cores)" \
    "chat none delivered_per_s|chat msgs/s" \
    "chat none p99_ms|chat p99 ms" \
    "chat none server_cpu_us_per_msg|chat server CPU us/msg" \
    "paced none p50_ms|paced p50 ms" \
    "paced none p99_ms|paced p99 ms" \
    "offline none stored_per_s|offline stored/s" \
    "offline none server_cpu_us_per_store|server CPU us/stored msg" \
    "offline none delivered_per_s|offline delivered/s" \
    "roster none p50_ms|roster get p50 ms" \
    "roster none p99_ms|roster get p99 ms" \
    "roster none first_byte_p50_ms|roster first byte p50 ms" \
    "roster none server_cpu_ms_per_fetch|server CPU ms/roster get" \
    "roster none result_bytes|roster bytes"
if wants everyone; then
    echo
    echo "Everyone group, no TLS ($EVERYONE_ONLINE online, $EVERYONE_REGS registrations, $EVERYONE_CONCURRENCY logins at once; $(nproc) cores)"
    echo
    awk 'BEGIN {
            n = split("users roster_items roster_bytes login_p50_ms login_p99_ms server_cpu_ms_per_login server_cpu_ms_per_roster_get ver_result ver_pushes reg_pushes_min reg_pushes_max reg_p50_ms reg_p99_ms server_cpu_ms_per_reg server_cpu_ms_per_reg_offline fanout_p50_ms fanout_p99_ms fanout_max_ms server_cpu_ms_fanout probes_all_ms", keys, " ")
            head = "| server |"; rule = "| --- |"
            for (i = 1; i <= n; i++) { head = head " " keys[i] " |"; rule = rule " ---: |" }
            print head; print rule
        }
        $1 == "RESULT" && $3 == "everyone" {
            delete v
            for (i = 4; i <= NF; i++) { eq = index($i, "="); v[substr($i, 1, eq - 1)] = substr($i, eq + 1) }
            row = "| " substr($2, 8) " |"
            for (i = 1; i <= n; i++) row = row " " ((keys[i] in v) ? v[keys[i]] : "-") " |"
            print row
        }' "$RESULTS"
fi
echo
echo "(xR) = the server's figure divided by hongyand's. Failures and drops per run:"
awk '$1 == "RESULT" && $3 != "register" {
        line = $2 " " $3
        for (i = 4; i <= NF; i++) if ($i ~ /^(tls|ok|failed|dropped|logins|stored|delivered|bounced|lost|late|items|fetches|users|presences_missing|presences_extra|reg_missing|server_alive)=/) line = line " " $i
        print "  " line
    }
    $1 == "RESULT" && $3 == "register" { print "  " $2 " register " $5 " " $6 " " $7 }' "$RESULTS"
echo
echo "Raw RESULT lines:"
cat "$RESULTS"

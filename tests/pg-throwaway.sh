#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests, never a system service:
#
#   tests/pg-throwaway.sh start DIR   initdb in DIR (if new) and start a server listening
#                                     only on a Unix socket in DIR; prints its URL (of the
#                                     database "postgres") and writes it to DIR/url
#   tests/pg-throwaway.sh stop DIR    stop it and remove DIR
#   tests/pg-throwaway.sh halt DIR    stop it, keeping DIR (start brings it back)
#   tests/pg-throwaway.sh url DIR     the URL again
#
# Debian's PostgreSQL server binaries (package postgresql-15) are found under
# /usr/lib/postgresql/*/bin. initdb refuses to run as root, so as root the server runs as
# the postgres user (which the package creates). Trust authentication on the socket only,
# so no password is needed and nothing outside this machine can connect.
#
# PG_SETTINGS replaces the settings that make a test server fast and fragile (no fsync);
# bench/compare.sh sets it to keep PostgreSQL's crash safety.
set -euo pipefail

cmd=${1:-} dir=${2:-}
[[ -n $cmd && -n $dir ]] || { echo "usage: $0 start|stop|halt|url DIR" >&2; exit 2; }

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[[ -x $bin/initdb ]] || {
    echo "$0: no PostgreSQL server found under /usr/lib/postgresql (apt-get install postgresql-15)" >&2
    exit 1
}

as_owner() {
    if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

owner() {
    if [[ $(id -u) -eq 0 ]]; then echo postgres; else id -un; fi
}

url() {
    echo "postgresql:///postgres?host=$dir&port=5432&user=$(owner)"
}

case $cmd in
start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [[ $(id -u) -eq 0 ]] && chown postgres "$dir"
    if [[ ! -f $dir/data/PG_VERSION ]]; then
        as_owner "$bin/initdb" -D "$dir/data" --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
            -U "$(owner)" >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    if ! as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        # Small and fast: no TCP, no fsync (a test database is thrown away), enough
        # connections for parallel tests with pools of their own.
        settings=${PG_SETTINGS:-"-c fsync=off -c synchronous_commit=off -c full_page_writes=off"}
        as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-c listen_addresses='' -k $dir -p 5432 $settings -c max_connections=300 -c shared_buffers=32MB" \
            start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    fi
    url >"$dir/url"
    url
    ;;
stop)
    if [[ -d $dir/data ]]; then
        dir=$(cd "$dir" && pwd)
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
halt)
    dir=$(cd "$dir" && pwd)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
url)
    dir=$(cd "$dir" && pwd)
    url
    ;;
*)
    echo "usage: $0 start|stop|halt|url DIR" >&2
    exit 2
    ;;
esac

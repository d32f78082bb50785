#!/usr/bin/env bash
# A throwaway PostgreSQL on loopback, in a temporary folder.
#   eval "$(scripts/pg-tmp.sh start)"   -> exports LEDGER_TEST_POSTGRES_URL, PGTMP_DIR
#   scripts/pg-tmp.sh stop "$PGTMP_DIR"
# Uses the machine's PostgreSQL binaries; installs Debian's postgresql if
# they are missing. initdb refuses to run as root, so the server runs as the
# unprivileged 'postgres' user when we are root.
set -euo pipefail

find_bindir() {
  local d
  if command -v pg_config >/dev/null 2>&1; then
    d=$(pg_config --bindir 2>/dev/null || true)
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  fi
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
  if command -v initdb >/dev/null 2>&1; then dirname "$(readlink -f "$(command -v initdb)")"; return; fi
  return 1
}

ensure_binaries() {
  if ! find_bindir >/dev/null; then
    echo "PostgreSQL binaries not found: installing Debian's postgresql" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
  fi
  find_bindir
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

as_server_user() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  local bindir dir port
  bindir=$(ensure_binaries)
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
  fi
  dir=$(mktemp -d /tmp/ledger-pg.XXXXXX)
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  port=$(free_port)
  # Tests trade durability for speed; benchmarks (PGTMP_DURABLE=1) keep the defaults.
  local fast="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  [ "${PGTMP_DURABLE:-0}" = 1 ] && fast=""
  as_server_user "$bindir/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  as_server_user "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir $fast -c max_connections=200" \
    start >&2 || { cat "$dir/server.log" >&2; exit 1; }
  "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres ledger_test >&2
  echo "export PGTMP_DIR=$dir PGTMP_BINDIR=$bindir"
  echo "export LEDGER_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:$port/ledger_test"
}

stop() {
  local dir=${1:?usage: pg-tmp.sh stop DIR}
  local bindir
  bindir=$(find_bindir)
  [ -d "$dir/data" ] && as_server_user "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >&2 || true
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) shift; stop "$@" ;;
  *) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac

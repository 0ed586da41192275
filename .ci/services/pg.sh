#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster (Debian postgresql-15) on loopback, without systemd. initdb
# and postgres refuse to run as root, so they run as the 'postgres' OS user. fsync is off: the
# data is thrown away after the tests.
#   D=DIR PGPORT=54329 pg.sh start   -> postgres://postgres@127.0.0.1:$PGPORT/postgres (trust)
#   D=DIR pg.sh stop
set -euo pipefail
D=${D:?set D to a state directory}
PORT=${PGPORT:-54329}
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
cmd=${1:?start or stop}
# From /, which the postgres user can enter (a checkout under a private temp dir it can't).
as_postgres() { if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }

case "$cmd" in
start)
  if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then exit 0; fi
  rm -rf "$D"
  mkdir -p "$D"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$D"
  as_postgres "$BIN/initdb" -D "$D/data" -U postgres -A trust -E UTF8 --no-instructions --no-sync \
    >"$D/initdb.log" 2>&1
  as_postgres "$BIN/pg_ctl" -D "$D/data" -l "$D/server.log" -w -t 30 \
    -o "-p $PORT -c listen_addresses=127.0.0.1 -k $D -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null
  ;;
stop)
  [ -d "$D/data" ] && as_postgres "$BIN/pg_ctl" -D "$D/data" -m fast stop >/dev/null || true
  ;;
*)
  echo "usage: D=DIR $0 start|stop" >&2
  exit 2
  ;;
esac

#!/usr/bin/env bash
# A throwaway single-node OpenStack Swift with its s3api middleware (S3-compatible, with real
# multipart semantics), from Debian packages, without systemd.
#   D=DIR swift.sh start   -> http://127.0.0.1:8080, access key "test:tester", secret "testing"
#   D=DIR swift.sh stop
set -euo pipefail
D=${D:?set D to a state directory}
cmd=${1:?start or stop}

healthy() { curl -sf http://127.0.0.1:8080/healthcheck >/dev/null 2>&1; }

setup() {
  rm -rf "$D"
  mkdir -p "$D"/srv/node/d1 "$D"/run "$D"/log
  cat >"$D"/swift.conf <<EOC
[swift-hash]
swift_hash_path_suffix = resumabletest
swift_hash_path_prefix = resumabletest
[storage-policy:0]
name = Policy-0
default = yes
[swift-constraints]
max_file_size = 5368709122
EOC
  local common="[DEFAULT]
swift_dir = $D
devices = $D/srv/node
mount_check = false
disable_fallocate = true
bind_ip = 127.0.0.1
user = $(id -un)
workers = 1
log_address = /dev/null-not-there
"
  local name port
  for entry in account:6202 container:6201 object:6200; do
    name=${entry%%:*}
    port=${entry##*:}
    printf '%s\nbind_port = %s\n[pipeline:main]\npipeline = %s-server\n[app:%s-server]\nuse = egg:swift#%s\n' \
      "$common" "$port" "$name" "$name" "$name" >"$D/$name-server.conf"
  done
  cat >"$D"/proxy-server.conf <<EOC
[DEFAULT]
swift_dir = $D
bind_ip = 127.0.0.1
bind_port = 8080
user = $(id -un)
workers = 1
log_address = /dev/null-not-there

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
allow_account_management = true
account_autocreate = true

[filter:s3api]
use = egg:swift#s3api
location = us-east-1
s3_acl = false
allow_multipart_uploads = true

[filter:tempauth]
use = egg:swift#tempauth
user_admin_admin = admin .admin .reseller_admin
user_test_tester = testing .admin

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:11211
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
EOC
  (
    cd "$D"
    for entry in account:6202 container:6201 object:6200; do
      name=${entry%%:*}
      port=${entry##*:}
      swift-ring-builder "$name.builder" create 10 1 1 >/dev/null
      swift-ring-builder "$name.builder" add "r1z1-127.0.0.1:$port/d1" 100 >/dev/null
      swift-ring-builder "$name.builder" rebalance >/dev/null || true
    done
  )
}

case "$cmd" in
start)
  if healthy; then exit 0; fi
  setup
  if ! (echo >/dev/tcp/127.0.0.1/11211) 2>/dev/null; then
    as=()
    [ "$(id -u)" = 0 ] && as=(-u memcache)
    memcached "${as[@]}" -l 127.0.0.1 -p 11211 -m 64 >"$D"/log/memcached.log 2>&1 &
    echo $! >"$D"/run/memcached.pid
  fi
  for s in account container object proxy; do
    nohup "swift-$s-server" "$D/$s-server.conf" >"$D/log/$s.log" 2>&1 &
    echo $! >"$D/run/$s.pid"
  done
  for _ in $(seq 1 100); do
    healthy && exit 0
    sleep 0.1
  done
  echo "swift did not become healthy; logs in $D/log" >&2
  exit 1
  ;;
stop)
  for f in "$D"/run/*.pid; do
    [ -e "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  ;;
*)
  echo "usage: D=DIR $0 start|stop" >&2
  exit 2
  ;;
esac

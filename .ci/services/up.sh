#!/usr/bin/env bash
# Sourced by .ci/run: installs (only what is missing, from Debian packages) and starts the real
# services the scale-out tests use — OpenStack Swift with s3api, and PostgreSQL — then exports
# RESUMABLE_TEST_S3 and RESUMABLE_TEST_PG for them. Services it started are stopped by
# services_down. Returns non-zero (and says why) when it can't.
SERVICES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SERVICES_STATE="${TMPDIR:-/tmp}/resumable-ci-services"
SERVICES_STARTED=()
export PGPORT="${PGPORT:-54329}"

services_install() {
  local missing=()
  command -v swift-proxy-server >/dev/null 2>&1 || missing+=(swift swift-proxy swift-account swift-container swift-object)
  command -v memcached >/dev/null 2>&1 || missing+=(memcached)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    if ! sudo -n true 2>/dev/null; then
      echo "services: cannot install ${missing[*]} without root (or sudo)" >&2
      return 1
    fi
    sudo=(sudo -n env DEBIAN_FRONTEND=noninteractive)
  fi
  local started=$SECONDS
  export DEBIAN_FRONTEND=noninteractive
  local apt=("${sudo[@]}" apt-get -qq -y -o DPkg::Lock::Timeout=120 --no-install-recommends)
  if ! "${apt[@]}" install "${missing[@]}" >"$SERVICES_STATE/apt.log" 2>&1; then
    "${apt[@]}" update >>"$SERVICES_STATE/apt.log" 2>&1
    "${apt[@]}" install "${missing[@]}" >>"$SERVICES_STATE/apt.log" 2>&1 || {
      echo "services: apt-get install ${missing[*]} failed; see $SERVICES_STATE/apt.log" >&2
      return 1
    }
  fi
  echo "services: installed ${missing[*]} in $((SECONDS - started)) s"
}

services_up() {
  mkdir -p "$SERVICES_STATE"
  services_install || return 1
  local started=$SECONDS
  if ! curl -sf http://127.0.0.1:8080/healthcheck >/dev/null 2>&1; then
    D="$SERVICES_STATE/swift" bash "$SERVICES_DIR/swift.sh" start || return 1
    SERVICES_STARTED+=(swift)
  fi
  if ! pg_isready -q -h 127.0.0.1 -p "$PGPORT" 2>/dev/null; then
    D="$SERVICES_STATE/pg" bash "$SERVICES_DIR/pg.sh" start || return 1
    SERVICES_STARTED+=(pg)
  fi
  echo "services: swift and postgresql up in $((SECONDS - started)) s"
  export RESUMABLE_TEST_S3="http://test%3Atester:testing@127.0.0.1:8080"
  export RESUMABLE_TEST_PG="postgres://postgres@127.0.0.1:$PGPORT/postgres"
}

services_down() {
  local s
  for s in "${SERVICES_STARTED[@]}"; do
    D="$SERVICES_STATE/$s" bash "$SERVICES_DIR/$s.sh" stop || true
  done
}

#!/usr/bin/env bash
# Runs every test of leadbridge on a fresh machine: installs what the tests need (Debian packages,
# the real Salesforce clients simple-salesforce and jsforce, a local PostgreSQL), starts the
# services, then runs `cargo test` for the whole workspace. Safe to run again: each step skips
# what is already there. `.ci/run` calls this script.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
deps="$root/.test-deps"
mkdir -p "$deps"

log() { printf '==> %s\n' "$*" >&2; }

# --- Debian packages -------------------------------------------------------------------------
need_apt=()
command -v pg_ctl >/dev/null 2>&1 || [ -x /usr/lib/postgresql/*/bin/pg_ctl ] 2>/dev/null || need_apt+=(postgresql)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing Debian packages: ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# --- The real Salesforce clients ---------------------------------------------------------------
if [ ! -x "$deps/venv/bin/python" ] || ! "$deps/venv/bin/python" -c 'import simple_salesforce' 2>/dev/null; then
  log "installing simple-salesforce into $deps/venv"
  python3 -m venv "$deps/venv"
  "$deps/venv/bin/pip" install -q --disable-pip-version-check simple-salesforce
fi
if [ ! -d "$deps/node/node_modules/jsforce" ]; then
  log "installing jsforce into $deps/node"
  mkdir -p "$deps/node"
  (cd "$deps/node" && { [ -f package.json ] || npm init -y >/dev/null; } && npm install --silent --no-audit --no-fund jsforce@3 >/dev/null)
fi
export LEADBRIDGE_TEST_PYTHON="$deps/venv/bin/python"
export LEADBRIDGE_TEST_NODE_PATH="$deps/node/node_modules"

# --- PostgreSQL, started for this run only -------------------------------------------------------
pg_bin="$(dirname "$(command -v pg_ctl 2>/dev/null || ls /usr/lib/postgresql/*/bin/pg_ctl | tail -n1)")"
pg_dir="$(mktemp -d /tmp/leadbridge-pg.XXXXXX)"
pg_port=$(( 20000 + RANDOM % 20000 ))
chown -R nobody "$pg_dir" 2>/dev/null || true
as_pg() { if [ "$(id -u)" = 0 ]; then su -s /bin/sh nobody -c "$*"; else sh -c "$*"; fi; }
log "starting PostgreSQL on 127.0.0.1:$pg_port"
as_pg "'$pg_bin/initdb' -D '$pg_dir/data' -U postgres -A trust >/dev/null"
as_pg "'$pg_bin/pg_ctl' -D '$pg_dir/data' -o '-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1' -l '$pg_dir/log' -w start >/dev/null"
trap 'as_pg "\"$pg_bin/pg_ctl\" -D \"$pg_dir/data\" -m fast stop >/dev/null" || true; rm -rf "$pg_dir"' EXIT
export TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$pg_port/postgres"

# --- The tests -----------------------------------------------------------------------------------
log "cargo test --workspace"
cargo test --workspace --locked "$@"

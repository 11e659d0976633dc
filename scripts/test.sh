#!/usr/bin/env bash
# Runs every test of leadbridge on a fresh machine (Debian 12, root or not): installs what the
# tests need (Debian packages, the real Salesforce clients simple-salesforce and jsforce, a local
# PostgreSQL), starts the services for this run only, then runs `cargo test` for the workspace.
#
# Safe to run again: each step skips what is already there. `.ci/run` calls this script with
# CI=true; then nothing may be skipped: a missing tool fails the run here, and the Rust tests
# fail (not skip) when a client they drive is missing. Extra arguments go to `cargo test`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
deps="$root/.test-deps"
mkdir -p "$deps"

# Versions of the real clients the conformance tests were written against (real-clients.md).
SIMPLE_SALESFORCE_VERSION="1.12.10"
JSFORCE_VERSION="3.10.16"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'test.sh: %s\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }

# --- Debian packages -----------------------------------------------------------------------------
# Each check names the package that provides what is missing. Only root can install; anyone else
# is told what to install.
pg_bin_dir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1; }
need_apt=()
[ -n "$(pg_bin_dir)" ] && [ -x "$(pg_bin_dir)/initdb" ] || need_apt+=(postgresql)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
# Debian's python3 needs python3-venv for `-m venv` (ensurepip); a pyenv/other python has it.
if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  need_apt+=(python3-venv)
fi
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
# Browser tests of the web app (crates/web/tests/it/ui/browser.rs): Debian's Chromium and its driver.
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)

if [ ${#need_apt[@]} -gt 0 ]; then
  is_root || die "missing Debian packages: ${need_apt[*]} (run as root, or: sudo apt-get install ${need_apt[*]})"
  log "installing Debian packages: ${need_apt[*]}"
  apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null \
    || die "apt-get install ${need_apt[*]} failed"
fi
pg_bin="$(pg_bin_dir)"
[ -x "$pg_bin/initdb" ] && [ -x "$pg_bin/pg_ctl" ] || die "PostgreSQL server binaries not found under /usr/lib/postgresql"
command -v cargo >/dev/null 2>&1 || die "cargo not found: install the Rust toolchain (rustup)"

# --- The real Salesforce clients -----------------------------------------------------------------
py="$deps/venv/bin/python"
if ! "$py" -c "import importlib.metadata as m, sys; sys.exit(m.version('simple-salesforce') != '$SIMPLE_SALESFORCE_VERSION')" 2>/dev/null; then
  log "installing simple-salesforce $SIMPLE_SALESFORCE_VERSION into $deps/venv"
  rm -rf "$deps/venv"
  python3 -m venv "$deps/venv" || die "python3 -m venv failed"
  "$deps/venv/bin/pip" install -q --disable-pip-version-check "simple-salesforce==$SIMPLE_SALESFORCE_VERSION" \
    || die "pip install simple-salesforce failed"
fi
"$py" -c 'import simple_salesforce' || die "simple-salesforce does not import from $py"

js_installed() {
  node -e "process.exit(require('$deps/node/node_modules/jsforce/package.json').version === '$JSFORCE_VERSION' ? 0 : 1)" 2>/dev/null
}
if ! js_installed; then
  log "installing jsforce $JSFORCE_VERSION into $deps/node"
  rm -rf "$deps/node"
  mkdir -p "$deps/node"
  (cd "$deps/node" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund "jsforce@$JSFORCE_VERSION" >/dev/null) \
    || die "npm install jsforce failed"
fi
NODE_PATH="$deps/node/node_modules" node -e "require('jsforce')" || die "jsforce does not load with node $(node --version)"

export LEADBRIDGE_TEST_PYTHON="$py"
export LEADBRIDGE_TEST_NODE_PATH="$deps/node/node_modules"
export LEADBRIDGE_TEST_CHROMIUM="$(command -v chromium)"
export LEADBRIDGE_TEST_CHROMEDRIVER="$(command -v chromedriver)"

# --- PostgreSQL, started for this run only ---------------------------------------------------------
# PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user that
# Debian's package creates (or `nobody`), in a private directory under /tmp.
pg_dir="$(mktemp -d /tmp/leadbridge-pg.XXXXXX)"
pg_user=""
if is_root; then
  if id postgres >/dev/null 2>&1; then pg_user=postgres; else pg_user=nobody; fi
  chown "$pg_user" "$pg_dir"
fi
as_pg() {
  # From inside $pg_dir: the checkout may sit where the server's user cannot even look.
  if [ -n "$pg_user" ]; then (cd "$pg_dir" && runuser -u "$pg_user" -- "$@"); else "$@"; fi
}
pg_stop() {
  as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$pg_dir"
}
trap pg_stop EXIT
pg_port=""
for _ in 1 2 3 4 5; do
  port=$(( 20000 + RANDOM % 20000 ))
  (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && continue  # taken
  pg_port=$port
  break
done
[ -n "$pg_port" ] || die "no free port for PostgreSQL"
log "starting PostgreSQL ($("$pg_bin/postgres" --version | awk '{print $3}')) on 127.0.0.1:$pg_port"
as_pg "$pg_bin/initdb" -D "$pg_dir/data" -U postgres -A trust -E UTF8 --no-locale >"$pg_dir/initdb.log" 2>&1 \
  || { cat "$pg_dir/initdb.log" >&2; die "initdb failed"; }
as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 60 \
  -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null \
  || { cat "$pg_dir/server.log" >&2; die "PostgreSQL did not start"; }
export TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$pg_port/postgres"

# --- The tests -------------------------------------------------------------------------------------
[ -f Cargo.lock ] || die "Cargo.lock is missing: it must be committed (the run uses --locked)"
log "cargo test --workspace --locked"
# The output is kept to close the run with one plain total line: cargo's own last line is the
# doc-test run of the last crate, often "0 passed", which reads as if nothing had run.
test_log="$pg_dir/cargo-test.log"
set +e
cargo test --workspace --locked "$@" 2>&1 | tee "$test_log"
status=${PIPESTATUS[0]}
set -e
awk '/^test result:/ { for (i = 1; i <= NF; i++) { n = $(i - 1) + 0
       if ($i ~ /^passed/) p += n; if ($i ~ /^failed/) f += n; if ($i ~ /^ignored/) s += n } }
     END { printf "summary: %d passed, %d failed, %d skipped\n", p, f, s }' "$test_log"
exit "$status"

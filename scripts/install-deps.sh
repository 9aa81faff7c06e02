#!/usr/bin/env bash
# Installs the Debian 12 packages Hongyan needs to build, run and test (--test), or to run
# the side-by-side benchmarks (--bench).
# Idempotent: does nothing (and prints nothing) when everything is present.
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake pkg-config clang clang-format libclang-rt-14-dev
  libboost1.81-dev libssl-dev libexpat1-dev libidn-dev libsqlite3-dev libpq-dev
  libtomlplusplus-dev libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev
)
TEST_PKGS=(python3 python3-slixmpp python3-pytest python3-websocket openssl sqlite3 util-linux
           postgresql-15
           nodejs npm
           prosody  # the other server test_prosody.py checks the client against
           tmux)    # the terminal test_client.py drives `hongyan chat` in

# The servers bench/compare.sh measures hongyand against.
BENCH_PKGS=(prosody ejabberd)

want=("${BUILD_PKGS[@]}")
if [[ "${1:-}" == "--test" ]]; then
  want+=("${TEST_PKGS[@]}")
fi
if [[ "${1:-}" == "--bench" ]]; then
  want+=("${BENCH_PKGS[@]}")
fi

missing=()
for p in "${want[@]}"; do
  # A Node.js from elsewhere (nodesource) counts: only node and npm themselves matter.
  if [[ "$p" == nodejs || "$p" == npm ]] && command -v "${p/nodejs/node}" >/dev/null 2>&1; then
    continue
  fi
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -gt 0 ]]; then
  echo "install-deps: installing ${missing[*]}" >&2
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Tests start their own Prosody; a system one would hold port 5222, which `make run` wants.
  if [[ " ${missing[*]} " == *" prosody "* ]]; then
    $SUDO systemctl disable --now prosody >/dev/null 2>&1 || $SUDO service prosody stop >/dev/null 2>&1 || true
  fi
fi

# The npm clients the integration tests drive (versions pinned in tests/node's lock file).
if [[ "${1:-}" == "--test" ]]; then
  node_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/node"
  if [[ ! -d "$node_dir/node_modules" || "$node_dir/package-lock.json" -nt "$node_dir/node_modules" ]]; then
    echo "install-deps: npm ci in tests/node" >&2
    (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
fi

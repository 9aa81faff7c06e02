#!/usr/bin/env bash
# Installs the Debian 12 packages Hongyan needs to build, run and test.
# Idempotent: does nothing (and prints nothing) when everything is present.
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake pkg-config clang clang-format libclang-rt-14-dev
  libboost1.81-dev libssl-dev libexpat1-dev libidn-dev libsqlite3-dev
  libtomlplusplus-dev libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev
)
TEST_PKGS=(python3 python3-slixmpp python3-pytest openssl sqlite3)

want=("${BUILD_PKGS[@]}")
if [[ "${1:-}" == "--test" ]]; then
  want+=("${TEST_PKGS[@]}")
fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# Installs what ssenotify needs to build, run and test on Debian 12, and nothing twice:
# apt runs only when a package is missing, so a second run costs a second.
# Usage: scripts/setup.sh [build|test]   (test = build + what the test suite needs)
set -euo pipefail
cd "$(dirname "$0")/.."

want=${1:-build}
build_pkgs=(build-essential pkg-config ca-certificates)
test_pkgs=()
if [ "$want" = test ]; then
  test_pkgs+=(python3)
fi

missing=()
for pkg in "${build_pkgs[@]}" "${test_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install Rust 1.95 or newer (https://rustup.rs) and run again" >&2
  exit 1
fi
cargo fetch --locked >/dev/null

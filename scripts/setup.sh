#!/usr/bin/env bash
# Installs what ssenotify needs to build, run and test on Debian 12, and nothing twice:
# apt runs only when a package is missing, so a second run costs a second.
# Usage: scripts/setup.sh [build|test]   (test = build + what the test suite needs)
set -euo pipefail
cd "$(dirname "$0")/.."

want=${1:-build}
build_pkgs=(build-essential pkg-config ca-certificates)
# The app (src-tauri) links GTK and WebKitGTK; `file` is for the .deb bundler.
build_pkgs+=(libwebkit2gtk-4.1-dev libgtk-3-dev librsvg2-dev
  libssl-dev libsoup-3.0-dev libjavascriptcoregtk-4.1-dev libxdo-dev file)
test_pkgs=()
if [ "$want" = test ]; then
  test_pkgs+=(python3)
  # The test script links with mold (faster than ld for the many test binaries).
  test_pkgs+=(mold)
  # The app under WebDriver on a virtual display with a session bus and a notification server.
  test_pkgs+=(xvfb dbus-x11 webkit2gtk-driver dunst libnotify-bin imagemagick xdotool
    fonts-dejavu-core at-spi2-core)
  # `dunstctl history` runs busctl (systemd's): the notification tests read dunst with it.
  test_pkgs+=(systemd)
  # tests/browser/run.sh compares the SSE parser with a real browser's EventSource (headless).
  test_pkgs+=(chromium)
  # tests/deb/run.sh validates the package's desktop entry; the man page tests render with man.
  test_pkgs+=(desktop-file-utils man-db)
fi
# The UI builds with the machine's Node.js (Vite 7 needs 20.19+); Debian's is the fallback.
command -v npm >/dev/null 2>&1 || build_pkgs+=(nodejs npm)

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

node_ok=$(node -e 'const [a, b] = process.versions.node.split(".").map(Number); console.log(a > 20 || (a === 20 && b >= 19) ? "yes" : "no")')
if [ "$node_ok" != yes ]; then
  echo "setup: Node.js $(node --version) is too old for the UI (Vite 7 needs 20.19 or newer)" >&2
  exit 1
fi
# The app embeds ui/dist when it compiles, so the UI is built here, before any cargo build.
ui/build.sh

if [ "$want" = test ] && ! cargo install --list | grep -q '^tauri-driver v2\.'; then
  echo "setup: installing tauri-driver 2" >&2
  cargo install --quiet --locked tauri-driver --version '^2'
fi

#!/usr/bin/env bash
# End-to-end tests of the real app in a real webview (WebKitGTK through tauri-driver and
# Debian's WebKitWebDriver). Builds the UI and the debug app if needed, then starts, only
# for this run, the headless environment of headless-env.sh (X server, session bus, HOME and
# XDG directories in a temporary directory) and tauri-driver on a free port. Screenshots of
# failures (WEBDRIVER_SCREENSHOTS=1: of every test) and logs land in tests/webdriver/artifacts/.
# Needs what `scripts/setup.sh test` installs.
# The files run one after another (they share the run's HOME and its engine).
# Usage: tests/webdriver/run.sh [TEST_FILE...]   (default: every tests/webdriver/*.test.mjs)
# With SSENOTIFY_APP and SSENOTIFY_CLI both set, those binaries are tested and nothing is built
# (scripts/test.sh builds them first; a release build can be tested the same way).
set -euo pipefail
tests=()
for file in "$@"; do tests+=("$(realpath "$file")"); done
cd "$(dirname "$0")/../.."
root=$PWD
[ ${#tests[@]} -gt 0 ] || tests=(tests/webdriver/*.test.mjs)

if [ -n "${SSENOTIFY_APP:-}" ] && [ -n "${SSENOTIFY_CLI:-}" ]; then
  app=$(realpath "$SSENOTIFY_APP")
  cli=$(realpath "$SSENOTIFY_CLI")
else
  # Build first, with the real HOME (cargo and rustup live there).
  ui/build.sh
  # The app starts the engine as `ssenotify run --tray`, found beside it in target/debug.
  cargo build --locked -p ssenotify-app -p ssenotify-cli
  app=$root/target/debug/ssenotify-app
  cli=$root/target/debug/ssenotify
fi
driver=$(command -v tauri-driver || true)
[ -n "$driver" ] || { echo "webdriver: tauri-driver not found; run scripts/setup.sh test" >&2; exit 1; }

artifacts=$root/tests/webdriver/artifacts
# shellcheck source=tests/webdriver/headless-env.sh
source tests/webdriver/headless-env.sh

free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}
port=$(free_port)
native_port=$(free_port)
start_bg tauri-driver "$driver" --port "$port" --native-port "$native_port"

echo "== webdriver end-to-end (DISPLAY=$DISPLAY, driver on port $port)"
# SSENOTIFY_APP is also what the daemon's tray "Show window" starts.
WEBDRIVER_URL=http://127.0.0.1:$port SSENOTIFY_APP=$app SSENOTIFY_CLI=$cli WEBDRIVER_ARTIFACTS=$artifacts \
  node --test --test-concurrency=1 --test-reporter=spec "${tests[@]}"

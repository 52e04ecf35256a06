#!/usr/bin/env bash
# Measures the app's memory (PSS and RSS of ssenotify-app plus its WebKit child processes,
# from /proc) in the headless environment: with the window shown, after closing it to the
# tray, and when started with --hidden. Not part of the test suite; numbers for the README
# and issue notes. Usage: tests/webdriver/memory.sh [APP_BINARY]
# (default: target/release/ssenotify-app if built, else target/debug/ssenotify-app)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
app=${1:-}
if [ -z "$app" ]; then
  app=$root/target/release/ssenotify-app
  [ -x "$app" ] || app=$root/target/debug/ssenotify-app
fi
app=$(realpath "$app")
settle=${SETTLE_SECONDS:-5}

artifacts=$root/tests/webdriver/artifacts/memory
# shellcheck source=tests/webdriver/headless-env.sh
source tests/webdriver/headless-env.sh

descendants() { # PID: the pid and all its descendants
  echo "$1"
  local child
  for child in $(cat /proc/"$1"/task/*/children 2>/dev/null); do descendants "$child"; done
}

report() { # LABEL PID
  local total_pss=0 total_rss=0 pid name pss rss detail=""
  for pid in $(descendants "$2"); do
    name=$(basename "$(readlink /proc/"$pid"/exe 2>/dev/null || echo '?')")
    pss=$(awk '/^Pss:/ {print $2}' /proc/"$pid"/smaps_rollup 2>/dev/null || echo 0)
    rss=$(awk '/^Rss:/ {print $2}' /proc/"$pid"/smaps_rollup 2>/dev/null || echo 0)
    total_pss=$((total_pss + pss))
    total_rss=$((total_rss + rss))
    detail+=" $name $((pss / 1024))"
  done
  printf '%-28s PSS %4d MB  RSS %4d MB  (PSS MB:%s)\n' "$1" $((total_pss / 1024)) $((total_rss / 1024)) "$detail"
}

main_window() { xdotool search --onlyvisible --name '^ssenotify$' 2>/dev/null | head -n1 || true; }

echo "== memory of $app"
started=$(date +%s%N)
start_bg app "$app"
app_pid=${pids[-1]}
window=""
for _ in $(seq 300); do
  window=$(main_window)
  [ -n "$window" ] && break
  sleep 0.05
done
[ -n "$window" ] || { echo "memory: the window never appeared" >&2; exit 1; }
echo "window mapped $(((($(date +%s%N) - started)) / 1000000)) ms after launch"
sleep "$settle"
report "window shown" "$app_pid"
python3 tests/webdriver/wm-close.py "$window"
sleep "$settle"
report "window closed to the tray" "$app_pid"
kill "$app_pid"
wait "$app_pid" 2>/dev/null || true

start_bg app-hidden "$app" --hidden
app_pid=${pids[-1]}
sleep "$settle"
report "started with --hidden" "$app_pid"

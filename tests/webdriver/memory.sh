#!/usr/bin/env bash
# Measures the app's memory (PSS and RSS from /proc of every process it consists of: the
# window's ssenotify-app with WebKit's web and network processes, and the engine with its
# tray icon, `ssenotify run --tray`) in the headless environment: with the window shown,
# after closing it to the tray, and when started with --hidden. Not part of the test suite;
# numbers for the README and issue notes. The engine is the `ssenotify` beside the app.
# Usage: tests/webdriver/memory.sh [APP_BINARY]
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

report() { # LABEL PID...
  local label=$1 total_pss=0 total_rss=0 pid name pss rss detail=""
  shift
  for pid in $(for root_pid in "$@"; do descendants "$root_pid"; done | sort -un); do
    name=$(basename "$(readlink /proc/"$pid"/exe 2>/dev/null || echo '?')")
    pss=$(awk '/^Pss:/ {print $2}' /proc/"$pid"/smaps_rollup 2>/dev/null || echo 0)
    rss=$(awk '/^Rss:/ {print $2}' /proc/"$pid"/smaps_rollup 2>/dev/null || echo 0)
    total_pss=$((total_pss + pss))
    total_rss=$((total_rss + rss))
    detail+=" $name $((pss / 1024))"
  done
  printf '%-28s PSS %4d MB  RSS %4d MB  (PSS MB:%s)\n' "$label" $((total_pss / 1024)) $((total_rss / 1024)) "$detail"
}

wait_daemon() { # prints the engine's pid once it answers
  local pid
  for _ in $(seq 200); do
    pid=$(daemon_pid)
    [ -n "$pid" ] && [ -S "$XDG_RUNTIME_DIR/ssenotify/ssenotify.sock" ] && { echo "$pid"; return; }
    sleep 0.05
  done
  echo "memory: the engine never started" >&2
  exit 1
}

stop_daemon() {
  local pid
  pid=$(daemon_pid)
  [ -n "$pid" ] || return 0
  kill "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.05; done
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
engine=$(wait_daemon)
sleep "$settle"
report "window shown" "$app_pid" "$engine"
python3 tests/webdriver/wm-close.py "$window"
for _ in $(seq 100); do # exited (a zombie until waited for) or gone
  grep -qs '^State:.*Z' /proc/"$app_pid"/status || ! kill -0 "$app_pid" 2>/dev/null && break
  sleep 0.1
done
grep -qs '^State:.*Z' /proc/"$app_pid"/status || ! kill -0 "$app_pid" 2>/dev/null ||
  { echo "memory: the app did not exit with its window" >&2; exit 1; }
sleep "$settle"
report "window closed to the tray" "$engine"
stop_daemon

started=$(date +%s%N)
"$app" --hidden >"$work/app-hidden.log" 2>&1 || { echo "memory: --hidden failed" >&2; exit 1; }
echo "--hidden returned $(((($(date +%s%N) - started)) / 1000000)) ms after launch"
engine=$(wait_daemon)
sleep "$settle"
report "started with --hidden" "$engine"

#!/usr/bin/env bash
# Measures the time from launching the app to every subscription OPEN: writes N (default 5)
# subscriptions against a loopback SSE server, starts the app in the headless environment
# of headless-env.sh, and polls the engine's control socket (`ssenotify list --json` would
# do the same) until all report OPEN. Not part of the suite; numbers for the issue notes.
# Usage: tests/webdriver/launch-time.sh [APP_BINARY] [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
app=$(realpath "${1:-$root/target/debug/ssenotify-app}")
n=${2:-5}
artifacts=$root/tests/webdriver/artifacts/launch
# shellcheck source=tests/webdriver/headless-env.sh
source tests/webdriver/headless-env.sh

port_file=$work/sse-port
start_bg sse node -e '
  const http = require("http");
  const s = http.createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write(": hi\n\n");
  }).listen(0, "127.0.0.1", () => require("fs").writeFileSync(process.argv[1], String(s.address().port)));
' "$port_file"
for _ in $(seq 50); do [ -s "$port_file" ] && break; sleep 0.1; done
port=$(cat "$port_file")

mkdir -p "$XDG_CONFIG_HOME/ssenotify"
for i in $(seq "$n"); do
  printf '[[subscription]]\nid = "s%d"\nurl = "http://127.0.0.1:%d/s%d"\n\n' "$i" "$port" "$i"
done >"$XDG_CONFIG_HOME/ssenotify/subscriptions.toml"

socket=$XDG_RUNTIME_DIR/ssenotify/ssenotify.sock
started=$(date +%s%N)
start_bg app "$app"
open_ms=""
for _ in $(seq 600); do
  if [ -S "$socket" ]; then
    reply=$(node -e '
      const c = require("net").createConnection(process.argv[1], () => c.write("{\"cmd\":\"status\"}\n"));
      let buf = ""; c.on("data", (d) => { buf += d; if (buf.includes("\n")) { console.log(buf.trim()); c.end(); } });
      c.on("error", () => console.log("{}"));
    ' "$socket")
    open=$(node -e 'const r = JSON.parse(process.argv[1]); console.log((r.subscriptions || []).filter((s) => s.ready_state === "OPEN").length)' "$reply")
    if [ "$open" -ge "$n" ]; then
      open_ms=$((($(date +%s%N) - started) / 1000000))
      break
    fi
  fi
  sleep 0.01
done
window_ms=""
for _ in $(seq 300); do
  if xdotool search --onlyvisible --name '^ssenotify$' >/dev/null 2>&1; then
    window_ms=$((($(date +%s%N) - started) / 1000000))
    break
  fi
  sleep 0.02
done
echo "app: $app"
echo "$n subscriptions OPEN ${open_ms:-never} ms after launch (window mapped by ${window_ms:-never} ms)"
grep -a "engine ready" "$work/app.log" | sed 's/\x1b\[[0-9;]*m//g' || true

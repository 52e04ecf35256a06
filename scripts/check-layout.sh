#!/usr/bin/env bash
# The architecture's rules that the compiler does not check (README, "Development"):
# no import cycles between a crate's modules, and the SSE client crate pulls in nothing of
# the daemon. Cargo already refuses cycles between crates.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 scripts/module-cycles.py

forbidden='^(rusqlite|notify-rust|zbus|ksni|minijinja|toml|toml_edit|serde_yaml_ng|tauri|ssenotify-(router|history|config|protocol|daemon))$'
found=$(cargo tree --locked -p ssenotify-sse -e normal --prefix none | awk '{print $1}' | sort -u | grep -E "$forbidden" || true)
if [ -n "$found" ]; then
  echo "check-layout: ssenotify-sse depends on the daemon's crates: $(echo "$found" | tr '\n' ' ')" >&2
  exit 1
fi
echo "ssenotify-sse's dependency tree holds none of the daemon's crates"

#!/usr/bin/env bash
# Sets everything up and runs ssenotify.
#   scripts/run.sh             the app: its window, and the engine with its tray icon
#                              (`ssenotify run --tray`, started by the app); release build,
#                              the first one takes minutes
#   scripts/run.sh ARGS...     the `ssenotify` command line with ARGS, e.g. `run`, `listen URL`
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
if [ $# -eq 0 ]; then
  cargo build --locked --release -p ssenotify-app -p ssenotify-cli
  exec target/release/ssenotify-app
fi
cargo build --locked --release -p ssenotify-cli --bin ssenotify
exec target/release/ssenotify "$@"

#!/usr/bin/env bash
# Sets everything up and runs ssenotify (release build). Arguments go to ssenotify;
# with none, it prints its help.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
cargo build --locked --release -p ssenotify-cli --bin ssenotify
if [ $# -eq 0 ]; then set -- --help; fi
exec target/release/ssenotify "$@"

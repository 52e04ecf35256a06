#!/usr/bin/env bash
# Sets everything up and runs every test: formatting, lints, unit, property and
# end-to-end tests (real SSE servers on loopback). This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh test

# Loopback tests must never go through a proxy from the environment.
export NO_PROXY="127.0.0.1,localhost,::1${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings
echo "== build binaries (the end-to-end tests run the real ssenotify)"
cargo build --locked --workspace --bins
echo "== cargo test"
cargo test --locked --workspace
echo "== ui tests (vitest)"
(cd ui && npm test --silent)
echo "== app end-to-end (WebDriver, real webview under Xvfb)"
tests/webdriver/run.sh

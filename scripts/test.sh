#!/usr/bin/env bash
# Sets everything up and runs every test: formatting, lints, unit, property and
# end-to-end tests (real SSE servers on loopback). This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
# The suite builds once from scratch on a CI machine: incremental caches would only take disk.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}

scripts/setup.sh test

# A cold build of the workspace and its tests takes about 2.5 GB under target/ (measured; see
# README). Say so up front rather than let the compiler fail half-way with ENOSPC.
avail_gb=$(df -P -k . | awk 'NR == 2 { print int($4 / 1048576) }')
if [ "$avail_gb" -lt 4 ]; then
  echo "test: warning: only ${avail_gb} GB free on $(df -P . | awk 'NR == 2 { print $6 }');" \
    "a cold build needs about 2.5 GB under target/" >&2
fi

# mold links the ~30 test and app binaries in a fraction of ld's time (setup.sh installs it;
# without it the default linker is used).
if command -v mold >/dev/null 2>&1; then
  export RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-fuse-ld=mold"
fi

# Loopback tests must never go through a proxy from the environment.
export NO_PROXY="127.0.0.1,localhost,::1${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== layout (no module cycles; the SSE client free of the daemon's crates)"
scripts/check-layout.sh
echo "== cargo clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings
# One build of everything, with the feature set `cargo test --workspace` resolves (dev-dependencies
# included), so `cargo test` rebuilds nothing and the binaries the end-to-end tests start are
# these very ones. Building them separately (`--bins`, `-p ssenotify-cli`, `-p ssenotify-app`)
# resolved other feature sets and compiled ~200 crates twice or three times.
echo "== build (the end-to-end tests run the real ssenotify and ssenotify-app)"
cargo build --locked --workspace --all-targets
export SSENOTIFY_BIN=$PWD/target/debug/ssenotify SSENOTIFY_CLI=$PWD/target/debug/ssenotify
export SSENOTIFY_APP=$PWD/target/debug/ssenotify-app
echo "== cargo test"
cargo test --locked --workspace
echo "== ui tests (vitest)"
(cd ui && npm test --silent)
echo "== SSE parser against a real browser (headless Chromium's EventSource, random streams)"
tests/browser/run.sh
echo "== app end-to-end (WebDriver, real webview under Xvfb)"
tests/webdriver/run.sh
# Last: the release build of the package (about 7 minutes from clean), installed with dpkg
# on this machine, checked and removed.
echo "== the .deb (built, installed with dpkg, checked, removed)"
tests/deb/run.sh

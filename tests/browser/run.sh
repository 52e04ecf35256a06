#!/usr/bin/env bash
# Differential test of ssenotify's SSE parser against a real browser's EventSource.
#
# What it proves: on COUNT (default 300) fresh random event streams, served from a loopback
# server in random small writes (splitting CR|LF pairs, UTF-8 sequences, BOMs, field names),
# headless Chromium's EventSource and `ssenotify listen --json` dispatch exactly the same events
# (type, data, lastEventId, in order) and reconnect with exactly the same Last-Event-ID (or none).
# The generator covers LF/CRLF/CR line ends, comments, unknown and wrong-case fields, fields
# without a colon, 0/1/2 spaces after the colon, ids with NUL or empty, retry values, invalid
# UTF-8, BOMs, events without data and streams that end inside an event or a line.
# On a disagreement it prints the seed, the stream (escaped and hex), both sides' results and a
# spec model's, then shrinks the first failing stream to a small one that still disagrees.
#
# Reproduce a run:     SEED=<seed printed by the run> tests/browser/run.sh
# One stream of it:    SEED=<seed> ONLY=<index> tests/browser/run.sh
# A given byte stream: CHUNKS_HEX=<hex of write 1>|<hex of write 2>... tests/browser/run.sh
# More streams:        COUNT=2000 tests/browser/run.sh
# Other knobs (SHRINK, PORTS, SLOTS, CLI_JOBS, VERBOSE) are described at the top of compare.mjs.
#
# Tests $SSENOTIFY_CLI when set (scripts/test.sh sets it to target/debug/ssenotify), else
# /work/snap/ssenotify. Needs Chromium (`scripts/setup.sh test` installs Debian's) and Node.js.
set -euo pipefail
cd "$(dirname "$0")"

chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  echo "browser: Chromium not found at $chromium; run scripts/setup.sh test (or set CHROMIUM)" >&2
  exit 1
fi
cli=${SSENOTIFY_CLI:-/work/snap/ssenotify}
if [ ! -x "$cli" ]; then
  echo "browser: ssenotify not found at $cli; build it (cargo build) and set SSENOTIFY_CLI" >&2
  exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ssenotify-browser.XXXXXX")
cleanup() {
  # compare.mjs kills Chromium itself; this is the backstop when it was killed first.
  if [ -s "$tmp/chromium.pid" ]; then
    kill -KILL -- "-$(cat "$tmp/chromium.pid")" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# Loopback only: no proxy from the environment.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"
CHROMIUM=$chromium SSENOTIFY_CLI=$cli CHROMIUM_PROFILE=$tmp node compare.mjs

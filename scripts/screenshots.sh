#!/usr/bin/env bash
# Regenerates docs/screenshots/: the real app, light and dark, at 1280x800 and 480x700, in
# four scenes (empty state, demo feed, a 2,000-event burst, the add form with errors).
# Builds nothing: SSENOTIFY_APP and SSENOTIFY_CLI name the binaries (default target/debug,
# which needs ui/build.sh and `cargo build -p ssenotify-app -p ssenotify-cli` first).
# Runs in the headless environment of tests/webdriver/headless-env.sh (Xvfb, session bus,
# a temporary HOME); tests/webdriver/screenshots.mjs starts one tauri-driver per theme and
# size, each with a fresh HOME. Needs what `scripts/setup.sh test` installs.
# Usage: scripts/screenshots.sh   (SCREENSHOT_THEMES=dark SCREENSHOT_SIZES=480x700
#        SCREENSHOT_SCENES=demo,burst to do fewer; SCREENSHOT_OUT=DIR to write elsewhere)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
app=$(realpath "${SSENOTIFY_APP:-target/debug/ssenotify-app}")
cli=$(realpath "${SSENOTIFY_CLI:-target/debug/ssenotify}")
for bin in "$app" "$cli"; do
  [ -x "$bin" ] || { echo "screenshots: $bin is missing: build it, or set SSENOTIFY_APP/SSENOTIFY_CLI" >&2; exit 1; }
done
command -v tauri-driver >/dev/null || { echo "screenshots: tauri-driver not found; run scripts/setup.sh test" >&2; exit 1; }

artifacts=$root/tests/webdriver/artifacts/screenshots
# shellcheck source=tests/webdriver/headless-env.sh
source tests/webdriver/headless-env.sh

SSENOTIFY_APP=$app SSENOTIFY_CLI=$cli SCREENSHOT_WORK=$work \
  SCREENSHOT_OUT=${SCREENSHOT_OUT:-$root/docs/screenshots} \
  node tests/webdriver/screenshots.mjs

#!/usr/bin/env bash
# Installs the UI's npm packages (from package-lock.json, when missing or out of date) and
# builds ui/dist when any input is newer than it. The app embeds ui/dist at compile time, so
# this must run before `cargo build`; skipping an unneeded build also keeps dist's mtime, so
# cargo does not rebuild the app for nothing.
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "ui: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

stale=$(find src index.html vite.config.ts tsconfig.json package-lock.json -newer dist/index.html 2>/dev/null | head -1 || true)
if [ ! -f dist/index.html ] || [ -n "$stale" ]; then
  echo "ui: npm run build" >&2
  npm run --silent build 1>&2
fi

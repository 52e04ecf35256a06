#!/usr/bin/env bash
# beforeBundleCommand of `tauri build`. The .deb ships two binaries: the app (the window)
# and `ssenotify` (the CLI, whose `run --tray` is the engine and tray icon the app starts),
# so this builds the CLI in release too. Then it drops the debug info that the workspace's
# release profile keeps (`debug = 1`, for profiling) from both: about 130 MB down to about
# 15 MB for the app. Symbols stay, so backtraces still name functions.
set -euo pipefail
cd "$(dirname "$0")"
[ "${TAURI_ENV_DEBUG:-false}" = true ] && exit 0
cargo build --release --locked -p ssenotify-cli
target_dir=${CARGO_TARGET_DIR:-../target}
triple_dir=${TAURI_ENV_TARGET_TRIPLE:+$target_dir/$TAURI_ENV_TARGET_TRIPLE/release}
for name in ssenotify-app ssenotify; do
  for binary in "$target_dir/release/$name" ${triple_dir:+"$triple_dir/$name"}; do
    if [ -f "$binary" ]; then
      strip --strip-debug "$binary"
    fi
  done
done

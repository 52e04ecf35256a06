#!/usr/bin/env bash
# beforeBundleCommand of `tauri build`: drops the debug info that the workspace's release
# profile keeps (`debug = 1`, for profiling) from the binary the .deb ships: about 130 MB
# down to about 15 MB. Symbols stay, so backtraces still name functions.
set -euo pipefail
cd "$(dirname "$0")"
[ "${TAURI_ENV_DEBUG:-false}" = true ] && exit 0
target_dir=${CARGO_TARGET_DIR:-../target}
triple_dir=${TAURI_ENV_TARGET_TRIPLE:+$target_dir/$TAURI_ENV_TARGET_TRIPLE/release}
for binary in "$target_dir/release/ssenotify-app" ${triple_dir:+"$triple_dir/ssenotify-app"}; do
  if [ -f "$binary" ]; then
    strip --strip-debug "$binary"
  fi
done

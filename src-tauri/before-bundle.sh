#!/usr/bin/env bash
# beforeBundleCommand of `tauri build`. The .deb ships two binaries: the app (the window)
# and `ssenotify` (the CLI, whose `run --tray` is the engine and tray icon the app starts),
# so this builds the CLI in release too. Then it drops the debug info that the workspace's
# release profile keeps (`debug = 1`, for profiling) from both: about 130 MB down to about
# 15 MB for the app. Symbols stay, so backtraces still name functions.
#
# Last, the release CLI writes what the package installs beside it (tauri.conf.json's
# bundle.linux.deb.files maps them): the man pages, the bash/zsh/fish completions and the
# subscriptions file's JSON Schema. They are generated here rather than committed, so they
# are always those of the binary in the package and nobody has to remember to refresh them.
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

# tauri.conf.json names ../target/release/deb-generated: the default target dir.
cli=$target_dir/release/ssenotify
out=../target/release/deb-generated
rm -rf "$out"
mkdir -p "$out/completions"
"$cli" man --dir "$out/man1" 2>/dev/null
# Debian installs man pages compressed; -n keeps the archive reproducible (no timestamp).
gzip -9n "$out"/man1/*.1
"$cli" completions bash >"$out/completions/ssenotify"
"$cli" completions zsh >"$out/completions/_ssenotify"
"$cli" completions fish >"$out/completions/ssenotify.fish"
"$cli" schema >"$out/subscriptions.schema.json"

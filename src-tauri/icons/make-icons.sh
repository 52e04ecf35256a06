#!/usr/bin/env bash
# Regenerates the app icons here and the tray icons in crates/tray/icons (RGBA PNGs) with
# ImageMagick; the PNGs are committed, so building never needs this. Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")"

# An open arc from 215 to 325 degrees around the dot, as short round-capped lines: Debian's
# IM 6.9 strokes a closing chord under its arc, path-arc and polyline primitives.
wave() { # size radius-percent
  awk -v s="$1" -v p="$2" 'BEGIN {
    r = s * p / 100; cx = s / 2; cy = s / 2 + s * 4 / 100; out = ""
    for (a = 215; a < 325; a += 5) {
      t = a * 3.14159265 / 180; u = (a + 5) * 3.14159265 / 180
      out = out sprintf(" line %.1f,%.1f %.1f,%.1f", cx + r * cos(t), cy + r * sin(t), cx + r * cos(u), cy + r * sin(u))
    }
    print out }'
}

# The mark: a dark rounded square with a broadcast dot and two waves (a server pushing events).
mark() { # size out [status-colour]
  local s=$1 out=$2 colour=${3:-}
  local r=$((s * 18 / 100)) m=$((s / 2)) w=$((s * 7 / 100 + 1))
  local args=(-size "${s}x${s}" xc:none
    -fill '#1f2937' -draw "roundrectangle 0,0 $((s - 1)),$((s - 1)) $r,$r"
    -fill none -stroke white -strokewidth "$w" -draw "stroke-linecap round"
    -draw "$(wave "$s" 32)" -draw "$(wave "$s" 19)"
    -stroke none -fill white -draw "circle $m,$((m + s * 4 / 100)) $((m + s * 7 / 100)),$((m + s * 4 / 100))")
  if [ -n "$colour" ]; then
    # The status badge: a coloured disc with a dark rim in the lower right corner.
    local c=$((s * 77 / 100)) br=$((s * 19 / 100))
    args+=(-fill '#1f2937' -draw "circle $c,$c $((c + br + s * 3 / 100)),$c"
      -fill "$colour" -draw "circle $c,$c $((c + br)),$c")
  fi
  convert "${args[@]}" -define png:color-type=6 "PNG32:$out"
}

mark 512 icon.png
mark 32 32x32.png
mark 128 128x128.png
# Tray variants (64 px: indicator hosts scale down): the aggregate state of all subscriptions.
# The tray icon is the engine's (crates/tray), not the app's.
tray=../../crates/tray/icons
mark 64 "$tray/tray-idle.png" '#9ca3af'
mark 64 "$tray/tray-open.png" '#22c55e'
mark 64 "$tray/tray-connecting.png" '#f59e0b'
mark 64 "$tray/tray-failed.png" '#ef4444'

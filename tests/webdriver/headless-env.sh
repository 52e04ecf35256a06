# Sourced by run.sh and memory.sh: starts, for this shell only, an X server (Xvfb, unless
# DISPLAY is set), a D-Bus session bus, and points HOME and the XDG directories at a fresh
# temporary directory, so nothing touches the real user's files (the app, the engine,
# WebKit and the autostart entry all follow them). Everything started here is
# stopped by pid on exit (start_bg adds more). Sets: work (the temporary directory) and
# artifacts (logs and screenshots, kept after the run).
# shellcheck shell=bash

work=$(mktemp -d "${TMPDIR:-/tmp}/ssenotify-e2e.XXXXXX")
artifacts=${artifacts:-$PWD/tests/webdriver/artifacts}
rm -rf "$artifacts"
mkdir -p "$artifacts"
pids=()

# The pid of the ssenotify daemon of this environment's user, if one runs (the app starts
# it in a process group of its own, so it is not among ours).
daemon_pid() {
  local lock=$XDG_RUNTIME_DIR/ssenotify/ssenotify.pid
  [ -s "$lock" ] && flock -n "$lock" true 2>/dev/null && return 0 # stale: nobody holds it
  [ -s "$lock" ] && cat "$lock"
  return 0
}

cleanup() {
  local status=$?
  # Stop what we started, newest first, by pid; then the daemon the app started.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
  local daemon
  daemon=$(daemon_pid)
  if [ -n "$daemon" ]; then
    kill "$daemon" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
  fi
  if [ -n "${DBUS_SESSION_BUS_PID:-}" ]; then kill "$DBUS_SESSION_BUS_PID" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  cp "$work"/*.log "$artifacts"/ 2>/dev/null || true
  if [ "$status" -ne 0 ]; then
    echo "e2e: failed; logs and screenshots in $artifacts" >&2
    for log in "$work"/*.log; do
      [ -s "$log" ] && { echo "--- $(basename "$log") (last lines)" >&2; tail -n 20 "$log" >&2; }
    done
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

# Runs a command in the background, logging to $work/NAME.log, and remembers its pid.
start_bg() { # NAME COMMAND...
  local name=$1
  shift
  "$@" >"$work/$name.log" 2>&1 &
  pids+=($!)
}

if [ -z "${DISPLAY:-}" ]; then
  # -displayfd picks a free display number, so concurrent runs on one machine never clash.
  exec 3>"$work/display"
  start_bg xvfb Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp
  exec 3>&-
  for _ in $(seq 100); do [ -s "$work/display" ] && break; sleep 0.1; done
  [ -s "$work/display" ] || { echo "e2e: Xvfb did not start" >&2; exit 1; }
  export DISPLAY=":$(head -n1 "$work/display")"
fi

export HOME=$work/home
export XDG_CONFIG_HOME=$HOME/.config XDG_DATA_HOME=$HOME/.local/share
export XDG_CACHE_HOME=$HOME/.cache XDG_STATE_HOME=$HOME/.local/state
export XDG_RUNTIME_DIR=$work/runtime
mkdir -p "$XDG_CONFIG_HOME" "$XDG_DATA_HOME" "$XDG_CACHE_HOME" "$XDG_STATE_HOME"
mkdir -m 700 -p "$XDG_RUNTIME_DIR"
# No accessibility bus under test: GTK would wait for it and warn.
export NO_AT_BRIDGE=1
eval "$(dbus-launch --sh-syntax)"

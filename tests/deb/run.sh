#!/usr/bin/env bash
# Builds the .deb as a user would (`tauri build --bundles deb`, release), installs it with
# dpkg on this machine, checks what it installed against the installed files only, and
# removes it again, checking that the removal leaves a user's config and history alone.
# Part of scripts/test.sh (CI); needs root (CI runs as root) and no ssenotify package
# installed already. About 7 minutes from clean on 2 cores, most of it the release build.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
started=$(date +%s)

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
if dpkg-query -W -f='${Status}' ssenotify 2>/dev/null | grep -q "install ok installed"; then
  echo "deb: a ssenotify package is installed on this machine; this test installs and removes" \
    "its own build: remove it first (apt remove ssenotify)" >&2
  exit 1
fi

fail() { echo "deb: FAIL: $*" >&2; exit 1; }
ok() { echo "deb: ok: $*"; }

# The release profile keeps line tables (`debug = 1`) for profiling, and before-bundle.sh
# strips them from what is packaged anyway: building without them saves time and disk.
export CARGO_PROFILE_RELEASE_DEBUG=0
npx --prefix ui tauri build --bundles deb
deb=$(ls -t target/release/bundle/deb/*.deb | head -n 1)
built=$(date +%s)
echo "deb: built $deb in $((built - started)) s ($(du -h "$deb" | cut -f1))"

home=$(mktemp -d)
installed=0
cleanup() {
  if [ "$installed" = 1 ]; then $SUDO dpkg -r ssenotify >/dev/null || true; fi
  rm -rf "$home"
}
trap cleanup EXIT

if ! $SUDO dpkg -i "$deb"; then
  # Dependencies that are not installed yet come from the distribution's archive.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -f -y -qq --no-install-recommends
fi
installed=1
dpkg-query -W -f='${Status}' ssenotify | grep -q "install ok installed" || fail "dpkg did not install it"
dpkg -L ssenotify | sort >"$home/files"
ok "installed ($(wc -l <"$home/files") paths)"

# Everything below runs the installed files, never the build tree.
cd /
export PATH=/usr/bin:/bin:/usr/sbin:/sbin
cli=$(/usr/bin/ssenotify --version | awk '{print $2}')
app=$(/usr/bin/ssenotify-app --version | awk '{print $2}')
pkg=$(dpkg-query -W -f='${Version}' ssenotify)
[ -n "$cli" ] && [ "$cli" = "$app" ] || fail "ssenotify $cli and ssenotify-app $app differ"
[ "$cli" = "$pkg" ] || fail "the binaries say $cli, the package $pkg"
ok "ssenotify and ssenotify-app both $cli"

desktop=$(grep '^/usr/share/applications/.*\.desktop$' "$home/files" | head -n 1)
[ -n "$desktop" ] || fail "no desktop entry"
desktop-file-validate "$desktop" || fail "$desktop does not validate"
icon=$(sed -n 's/^Icon=//p' "$desktop")
grep -q "^/usr/share/icons/hicolor/[0-9x@]*/apps/$icon\.png$" "$home/files" ||
  fail "no icon $icon in the hicolor theme"
ok "$desktop validates; its icon $icon is in hicolor"

must_list() { grep -qxF "$1" "$home/files" || fail "dpkg -L does not list $1"; }
for page in ssenotify ssenotify-run ssenotify-check ssenotify-doctor ssenotify-service; do
  must_list "/usr/share/man/man1/$page.1.gz"
done
must_list /usr/share/bash-completion/completions/ssenotify
must_list /usr/share/zsh/vendor-completions/_ssenotify
must_list /usr/share/fish/vendor_completions.d/ssenotify.fish
must_list /usr/lib/systemd/user/ssenotify.service
must_list /usr/share/ssenotify/subscriptions.schema.json
ok "dpkg -L lists the man pages, completions, user unit and schema"

# They work, not only exist.
# (Outputs go to files first: `grep -q` closing a pipe early would fail it under pipefail.)
MANPAGER=cat MANWIDTH=80 man ssenotify-doctor >"$home/man.txt" 2>&1 || fail "man ssenotify-doctor: $(cat "$home/man.txt")"
grep -q "ssenotify-doctor" "$home/man.txt" || fail "man ssenotify-doctor shows another page"
bash --norc -c 'source /usr/share/bash-completion/completions/ssenotify && complete -p ssenotify' \
  >"$home/complete.txt" 2>&1 || fail "the bash completion does not load: $(cat "$home/complete.txt")"
grep -q _ssenotify_with_ids "$home/complete.txt" || fail "the bash completion has no id hook"
/usr/bin/ssenotify schema | cmp -s - /usr/share/ssenotify/subscriptions.schema.json ||
  fail "the installed schema is not the one ssenotify prints"
mkdir -p "$home/run" && chmod 700 "$home/run"
# The full check here (man pages included: the package has them).
verify=$(HOME=$home XDG_RUNTIME_DIR=$home/run systemd-analyze --user verify \
  /usr/lib/systemd/user/ssenotify.service 2>&1) || fail "systemd-analyze: $verify"
[ -z "$verify" ] || fail "systemd-analyze warns: $verify"
ok "man, bash completion, schema and the user unit (systemd-analyze verify) work"

# A user's own files, made by the installed binary: they must outlive the package.
export HOME=$home XDG_CONFIG_HOME=$home/config XDG_DATA_HOME=$home/data XDG_RUNTIME_DIR=$home/run
/usr/bin/ssenotify add https://example.invalid/sse --id keep >/dev/null
head -n 1 "$XDG_CONFIG_HOME/ssenotify/subscriptions.toml" |
  grep -qxF "#:schema file:///usr/share/ssenotify/subscriptions.schema.json" ||
  fail "a new subscriptions file does not name the installed schema"
/usr/bin/ssenotify check >/dev/null || fail "ssenotify check"
/usr/bin/ssenotify run --no-notify 2>"$home/run.log" &
daemon=$!
for _ in $(seq 100); do
  /usr/bin/ssenotify status >/dev/null 2>&1 && break
  sleep 0.1
done
/usr/bin/ssenotify status >/dev/null || fail "the installed daemon does not answer: $(cat "$home/run.log")"
/usr/bin/ssenotify quit >/dev/null
wait "$daemon" || fail "the daemon did not stop cleanly: $(cat "$home/run.log")"
[ -f "$XDG_DATA_HOME/ssenotify/history.sqlite3" ] || fail "no history was created"
(cd "$home" && find config data -type f -print0 | sort -z | xargs -0 sha256sum) >"$home/user-files"
ok "the installed daemon ran for a user with a new subscriptions file and history"

$SUDO dpkg -r ssenotify >/dev/null
installed=0
while read -r path; do
  # Directories such as /usr/share/man are shared with other packages and stay.
  if [ -e "$path" ] && [ ! -d "$path" ]; then fail "dpkg -r left $path"; fi
done <"$home/files"
(cd "$home" && sha256sum --quiet -c "$home/user-files") || fail "dpkg -r touched the user's files"
ok "dpkg -r removed every file it installed and left the user's config and history"
echo "deb: built in $((built - started)) s, checked in $(($(date +%s) - built)) s"

#!/bin/bash
# The Cockpit page in a real browser against a real corrald: a private system bus (a
# dbus-daemon with corral's own D-Bus policy), corrald on it with one TCG VM, and two
# cockpit-ws --local-session (each spawns cockpit-bridge as its own user, reaching the bus
# through DBUS_SYSTEM_BUS_ADDRESS): one as root, one as an unprivileged user. cockpit/test/
# browser.mjs drives Debian's Chromium headless through both; screenshots go to SHOTS_DIR.
#
#   cockpit_test.sh SOURCE_DIR BINARY_DIR GUEST_IMAGE_DIR SHOTS_DIR
#
# Every process is killed by pid and the temp dir removed on every path.
set -euo pipefail

src=$(cd "$1" && pwd)
bin=$(cd "$2" && pwd)
guest=$(cd "$3" && pwd)
shots=$4
SKIP=77
WS=/usr/lib/cockpit/cockpit-ws
READER=nobody
[ "$(id -u)" -eq 0 ] || { echo "cockpit test: SKIPPED: needs root (a second user's session)"; exit $SKIP; }
for tool in "$WS" /usr/bin/cockpit-bridge /usr/bin/chromium node dbus-daemon busctl setpriv qemu-img; do
    command -v "$tool" >/dev/null || { echo "cockpit test: $tool missing (make deps)"; exit 1; }
done
[ -d "$src/cockpit/node_modules/playwright-core" ] ||
    { echo "cockpit test: $src/cockpit/node_modules missing (make deps runs npm ci)"; exit 1; }
for f in vmlinuz initrd.img; do
    [ -f "$guest/$f" ] || { echo "cockpit test: $guest/$f missing (build target guest-image)"; exit 1; }
done

T=$(mktemp -d /tmp/corral-cockpit.XXXXXX)
chmod 0755 "$T" # the reader's bridge reads the page from here
PIDS=()
log() { echo "[cockpit $(date +%T.%3N)] $*"; }
fail() {
    log "FAILED: $*"
    for f in "$T"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }; done
    exit 1
}
cleanup() {
    local rc=$? pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    [ -f "$T/run/web1/qemu.pid" ] && kill -KILL "$(cat "$T/run/web1/qemu.pid")" 2>/dev/null || true
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    # Each cockpit-bridge starts a session bus (dbus-daemon --session, which daemonizes, so it
    # is no child of ours and outlives the bridge): end every process whose environment points
    # at this run's bus, found by pid in /proc.
    local e
    for e in /proc/[0-9]*/environ; do
        pid=${e#/proc/}
        pid=${pid%/environ}
        [ "$pid" != $$ ] || continue
        tr '\0' '\n' 2>/dev/null <"$e" | grep -qxF "DBUS_SYSTEM_BUS_ADDRESS=unix:path=$T/bus.sock" &&
            kill -KILL "$pid" 2>/dev/null || true
    done
    rm -rf "$T"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# until_ok SECONDS WHAT COMMAND...: poll every 100 ms, bounded.
until_ok() {
    local limit=$1 what=$2 deadline
    shift 2
    deadline=$(($(date +%s) + limit))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || fail "timed out after ${limit}s waiting for $what"
        sleep 0.1
    done
}

# A free TCP port on 127.0.0.1 (none listening there now).
free_port() {
    local port
    for port in $(shuf -i 20000-40000 -n 50); do
        ss -Htln "sport = :$port" | grep -q . || { echo "$port"; return; }
    done
    fail "no free port found"
}

log "the page, bundled from cockpit/ (offline, node_modules of npm ci)"
node "$src/cockpit/build.mjs" "$T/share/cockpit/corral" >"$T/build.log" 2>&1 || fail "page build"

log "a private system bus with corral's D-Bus policy"
mkdir -p "$T/instances" "$T/run" "$T/commands" "$T/state" "$T/log"
cat >"$T/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$T/bus.sock</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
  <include>$src/etc/dbus/org.corral1.conf</include>
</busconfig>
CONF
BUS=unix:path=$T/bus.sock
dbus-daemon --config-file="$T/bus.conf" --nofork --nopidfile >"$T/dbus.log" 2>&1 &
PIDS+=($!)
until_ok 10 "dbus-daemon" test -S "$T/bus.sock"

# corrald starts with no VM; the browser run defines web1 once it saw the empty state.
cat >"$T/web1.toml" <<TOML
[machine]
type = "pc"
accel = "tcg"
memory = "256M"
[boot]
kernel = "$guest/vmlinuz"
initrd = "$guest/initrd.img"
cmdline = "console=ttyS0 panic=-1"
[display]
type = "vnc"
TOML
# The page defines web2 with this disk and hotplugs data.raw into web1 (manage.mjs).
mkdir -p "$T/files"
qemu-img create -q -f qcow2 "$T/files/web2.qcow2" 64M
truncate -s 16M "$T/files/data.raw"
printf '[paths]\nguest_commands_dir = "%s"\nstate_dir = "%s"\nlog_dir = "%s"\n' \
    "$T/commands" "$T/state" "$T/log" >"$T/corral.toml"
"$bin/supervisor/corrald" --bus-address "$BUS" --instances-dir "$T/instances" \
    --runtime-dir "$T/run" --config "$T/corral.toml" >"$T/corrald.log" 2>&1 &
PIDS+=($!)
until_ok 20 "corrald on the bus" busctl --address "$BUS" status org.corral1

cat >"$T/define.sh" <<SH
#!/bin/sh
set -e
cp "$T/web1.toml" "$T/instances/web1.toml"
busctl --address "$BUS" call org.corral1 /org/corral1 org.corral1.Manager Reload
SH
chmod +x "$T/define.sh"

# The policy the page's read-only mode stands on: the reader may read, not call.
setpriv --reuid="$READER" --regid=nogroup --clear-groups \
    busctl --address "$BUS" get-property org.corral1 /org/corral1 org.corral1.Manager Version \
    >"$T/reader-read.log" 2>&1 || fail "the reader cannot read Version"
if setpriv --reuid="$READER" --regid=nogroup --clear-groups \
    busctl --address "$BUS" call org.corral1 /org/corral1 org.corral1.Manager Reload \
    >"$T/reader-call.log" 2>&1; then
    fail "the bus let $READER call Reload"
fi

start_ws() {
    local who=$1 port=$2
    shift 2
    env DBUS_SYSTEM_BUS_ADDRESS="$BUS" XDG_DATA_DIRS="$T/share:/usr/share" HOME="$T" \
        "$@" "$WS" --local-session=/usr/bin/cockpit-bridge --address 127.0.0.1 --port "$port" \
        >"$T/ws-$who.log" 2>&1 &
    PIDS+=($!)
    until_ok 10 "cockpit-ws ($who) on port $port" curl -sf -o /dev/null "http://127.0.0.1:$port/cockpit/@localhost/manifests.json"
}
ADMIN_PORT=$(free_port)
start_ws root "$ADMIN_PORT"
READER_PORT=$(free_port)
start_ws reader "$READER_PORT" setpriv --reuid="$READER" --regid=nogroup --clear-groups

log "browser: root on $ADMIN_PORT, $READER on $READER_PORT"
page=cockpit/@localhost/corral/index.html
rm -rf "$shots"
CORRAL_PAGE_FILES="$T/files" node "$src/cockpit/test/browser.mjs" "http://127.0.0.1:$ADMIN_PORT/$page" \
    "http://127.0.0.1:$READER_PORT/$page" web1 "$shots" "$T/define.sh" || fail "browser run"
log "screenshots in $shots"
echo "cockpit test: PASSED"

#!/bin/bash
# System test of the Cockpit page: the corral and cockpit-corral .debs installed in the booted
# systemd container of rig.sh next to Debian's cockpit-ws and cockpit-bridge, cockpit.socket
# started, corrald with one TCG VM; on the host, cockpit/test/browser.mjs drives Debian's
# Chromium headless to cockpit-ws on port 9090 and logs in on Cockpit's own login page (PAM)
# as root and as an unprivileged user.
#
#   cockpit.sh SRCDIR GUEST_IMAGE_DIR PACKAGES_DIR SCREENSHOT_DIR
#
# The container shares the host's network (cockpit-ws listens on the host's 127.0.0.1:9090, so
# that port must be free). It is powered off and its cgroups, overlay and run directory removed
# on every path.
set -euo pipefail

src=$(cd "$1" && pwd)
guest=$(cd "$2" && pwd)
pkgdir=$3
shots=$4
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=rig.sh
. "$here/rig.sh"

[ "$(id -u)" -eq 0 ] || { echo "cockpit system test: needs root (nspawn, cgroups, overlayfs)"; exit 1; }
for f in vmlinuz initrd.img; do
    [ -f "$guest/$f" ] || { echo "cockpit system test: $guest/$f missing (build target guest-image)"; exit 1; }
done
[ -d "$src/cockpit/node_modules/playwright-core" ] && [ -x /usr/bin/chromium ] ||
    { echo "cockpit system test: chromium or cockpit/node_modules missing (make deps)"; exit 1; }
corral_deb=$(ls -t "$pkgdir"/corral_*.deb 2>/dev/null | head -n1)
page_deb=$(ls -t "$pkgdir"/cockpit-corral_*.deb 2>/dev/null | head -n1)
[ -n "$corral_deb" ] && [ -n "$page_deb" ] ||
    { echo "cockpit system test: no corral and cockpit-corral .deb in $pkgdir (ctest system.build_deb)"; exit 1; }
PORT=9090
if ss -Htln "sport = :$PORT" | grep -q .; then
    echo "cockpit system test: port $PORT is already in use on this host:"
    ss -Htlnp "sport = :$PORT"
    exit 1
fi

log() { echo "[cockpit-system $(date +%T.%3N)] $*"; }
fail() {
    log "FAILED: $*"
    rig_exec journalctl --no-pager -n 40 -u corrald -u cockpit.socket -u cockpit 2>/dev/null || true
    exit 1
}
wait_for() {
    local limit=$1 what=$2 deadline
    shift 2
    deadline=$(($(date +%s) + limit))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || fail "timed out after ${limit}s waiting for $what"
        sleep 0.2
    done
}

rig_reap_stale
rig_init cockpit
trap 'rig_cleanup' EXIT
trap 'exit 130' INT TERM
cp "$corral_deb" "$page_deb" "$RIG_RUN/share/"
cat >"$RIG_RUN/share/web1.toml" <<TOML
[machine]
type = "pc"
accel = "tcg"
memory = "256M"
[boot]
kernel = "/opt/guest/vmlinuz"
initrd = "/opt/guest/initrd.img"
cmdline = "console=ttyS0 panic=-1"
TOML
log "booting the container (host network)"
rig_boot --bind-ro="$guest":/opt/guest || fail "the container did not boot"

log "installing $(basename "$corral_deb") and $(basename "$page_deb")"
rig_exec sh -c 'dpkg -i /opt/rig/corral_*.deb /opt/rig/cockpit-corral_*.deb' >"$RIG_RUN/dpkg.log" 2>&1 ||
    { tail -n 20 "$RIG_RUN/dpkg.log"; fail "dpkg -i"; }
rig_exec test -f /usr/share/cockpit/corral/manifest.json || fail "cockpit-corral installed no manifest"
# Passwords for Cockpit's PAM login; Debian's cockpit-ws refuses root unless disallowed-users
# is emptied. "viewer" is in no group: the page must be read-only for it.
ROOT_PW=corral-root-$$
VIEWER_PW=corral-viewer-$$
rig_exec sh -c "echo 'root:$ROOT_PW' | chpasswd && useradd -m viewer &&
    echo 'viewer:$VIEWER_PW' | chpasswd && : >/etc/cockpit/disallowed-users" || fail "users"
rig_exec systemctl start corrald.service cockpit.socket || fail "starting corrald and cockpit.socket"
wait_for 30 "corrald on the system bus" rig_exec busctl status org.corral1
wait_for 30 "cockpit-ws on 127.0.0.1:$PORT" curl -sf -o /dev/null "http://127.0.0.1:$PORT/"

define=(nsenter -t "$(rig_leader)" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin sh -c
    'cp /opt/rig/web1.toml /etc/corral/instances/web1.toml &&
     busctl call org.corral1 /org/corral1 org.corral1.Manager Reload')
url=http://127.0.0.1:$PORT/cockpit/@localhost/corral/index.html
rm -rf "$shots"
log "browser: root and viewer log in on $PORT"
CORRAL_ADMIN_LOGIN="root:$ROOT_PW" CORRAL_READER_LOGIN="viewer:$VIEWER_PW" \
    timeout 480 node "$src/cockpit/test/browser.mjs" "$url" "$url" web1 "$shots" "${define[@]}" ||
    fail "browser run"
log "screenshots in $shots"
echo "cockpit system test: PASSED"

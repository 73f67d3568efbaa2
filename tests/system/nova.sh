#!/bin/bash
# System test of nova-compute-corral in Debian 12's real OpenStack: the Nova rig (nova-rig.sh:
# mariadb, rabbitmq, keystone, glance, placement, nova api/conductor/scheduler, cached) booted
# under systemd, the run's corral and nova-compute-corral .debs installed with Debian's
# nova-compute, the control plane configured and started by nova-configure.sh, then through
# Nova's API (openstack, and nova-steps.py for the timed waits):
#   the project's guest image uploaded to Glance; `server create --nic none` -> ACTIVE, the
#   guest's boot text in `openstack console log show`; stop/start/hard reboot/pause/unpause each
#   seen in corral (busctl State, qemu pid) and in Nova; qemu SIGKILLed -> SHUTOFF in Nova
#   (bound 2 s, the driver's event path); delete -> gone from corral and its disk removed;
#   create -> ACTIVE timed against a second nova-compute with Nova's FakeDriver.
#
#   nova.sh BOOT_ISO PACKAGES_DIR
#
# The container has its own network (only lo). It is powered off and its cgroups, overlay and
# run directory removed on every path (trap, plus a watchdog before ctest's TIMEOUT).
set -euo pipefail

boot_iso=$1
pkgdir=$2
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "nova system test: needs root (nspawn, cgroups, overlayfs)"; exit 1; }
[ -f "$boot_iso" ] || { echo "nova system test: $boot_iso missing (build-isos.sh)"; exit 1; }
corral_deb=$(ls -t "$pkgdir"/corral_*_amd64.deb 2>/dev/null | head -n1)
nova_deb=$(ls -t "$pkgdir"/nova-compute-corral_*.deb 2>/dev/null | head -n1)
[ -n "$corral_deb" ] && [ -n "$nova_deb" ] ||
    { echo "nova system test: no corral and nova-compute-corral .deb in $pkgdir (ctest system.build_deb)"; exit 1; }

log() { echo "[nova-system $(date +%T.%3N)] $*"; }
c() { rig_exec "$@"; }
# A command of the tests with the admin credentials.
os() { c bash -c '. /root/admin-openrc && exec "$@"' os "$@"; }
fail() {
    log "FAILED: $*"
    c journalctl --no-pager -n 60 -u nova-compute -u corrald 2>/dev/null | tail -n 60 || true
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
# corral's object path of instance $1 (names are escaped in paths).
path() { c busctl call org.corral1 /org/corral1 org.corral1.Manager GetInstance s "$1" | cut -d'"' -f2; }
prop() {
    c busctl get-property org.corral1 "$(path "$1")" org.corral1.Instance "$2" |
        cut -d' ' -f2- | tr -d '"'
}
stateIs() { [ "$(prop "$1" State)" = "$2" ]; }
novaStatus() { os openstack server show -f value -c status "$1"; }
steps() { os /usr/bin/python3 /opt/rig/nova-steps.py "$@"; }
boots() { c grep -c "Linux version" "/var/log/corral/$1/console.log" || true; }

cleanup() {
    local rc=$?
    [ "$rc" -eq 0 ] || [ -z "${RIG_RUN:-}" ] || cp "$RIG_RUN/console.log" "$pkgdir/nova-rig-console.log" 2>/dev/null || true
    rig_cleanup
    kill "$watchdog" 2>/dev/null || true
    exit "$rc"
}
t_start=$(date +%s)
# shellcheck source=nova-rig.sh
. "$here/nova-rig.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM
(
    sleep "${SYSTEM_TEST_DEADLINE:-1140}"
    echo "nova system test: over ${SYSTEM_TEST_DEADLINE:-1140}s, stopping"
    kill -TERM $$
) 2>/dev/null &
watchdog=$!
rig_reap_stale
rig_init "nova$$"
log "rootfs ready after $(($(date +%s) - t_start)) s"

share=$RIG_RUN/share
cp "$corral_deb" "$share/corral.deb"
cp "$nova_deb" "$share/nova-compute-corral.deb"
cp "$here/nova-configure.sh" "$here/nova-steps.py" "$here/nova-network-standin.py" "$share/"
qemu-img convert -f raw -O qcow2 "$boot_iso" "$share/guest.qcow2"
cat >"$share/fake-compute.conf" <<EOF
[DEFAULT]
host = fake-host
compute_driver = fake.FakeDriver
EOF
root=$RIG_RUN/root
printf '127.0.0.1 localhost\n127.0.1.1 corral-nova\n' >"$root/etc/hosts"
cat >"$root/etc/systemd/system/network-standin.service" <<EOF
[Unit]
Description=Nova's network API without Neutron (the Nova system test)
[Service]
ExecStart=/usr/bin/python3 /opt/rig/nova-network-standin.py 9696
EOF

log "booting the container"
rig_boot --private-network || fail "the container did not boot"
log "installing nova-compute, $(basename "$corral_deb"), $(basename "$nova_deb")"
# No service starts during the install: nova-configure.sh starts them configured.
c sh -c 'printf "#!/bin/sh\nexit 101\n" >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'
c sh -c 'dpkg -i /opt/nova-debs/nova-compute_*.deb /opt/rig/corral.deb /opt/rig/nova-compute-corral.deb' \
    >"$RIG_RUN/dpkg.log" 2>&1 || { tail -n 30 "$RIG_RUN/dpkg.log"; fail "dpkg -i"; }
c rm /usr/sbin/policy-rc.d
c id -nG nova | grep -qw corral || fail "the package did not add nova to group corral"
c grep -q "^compute_driver = corral.CorralDriver" /etc/nova/nova-compute.conf ||
    fail "/etc/nova/nova-compute.conf does not select the corral driver"
c sh -c "dpkg -l | grep -c '^ii  libvirt'" | grep -qx 0 || fail "libvirt got installed"

t=$(date +%s)
c bash /opt/rig/nova-configure.sh || fail "configuring the control plane"
log "control plane configured and up in $(($(date +%s) - t)) s"

os openstack flavor create --vcpus 1 --ram 256 --disk 1 m1.corral >/dev/null
os openstack image create --disk-format qcow2 --container-format bare --public \
    --file /opt/rig/guest.qcow2 corral-guest >/dev/null || fail "image upload to Glance"
image=$(os openstack image show -f value -c id corral-guest)

# --- create, boot
read -r id name ms < <(steps create vm1 m1.corral "$image" corral-nova) || fail "server create"
log "server create -> ACTIVE with the corral driver: $ms ms ($id, $name)"
create_corral_ms=$ms
stateIs "$name" running || fail "corral says $name is $(prop "$name" State)"
pid=$(prop "$name" Pid)
c grep -q qemu-system "/proc/$pid/cmdline" || fail "Pid $pid is not a qemu"
# grep reads it all: with -q it would end first and pipefail would see openstack's SIGPIPE.
bootText() { os openstack console log show "$id" | grep "Linux version" >/dev/null; }
wait_for 180 "the guest's boot text in openstack console log show" bootText
log "boot text in openstack console log show"

# --- lifecycle through Nova, seen in corral
ms=$(steps act "$id" stop SHUTOFF) || fail "server stop"
stateIs "$name" stopped || fail "after stop corral says $(prop "$name" State)"
c test ! -d "/proc/$pid" || fail "qemu $pid still runs after stop"
log "stop: SHUTOFF in $ms ms, corral stopped"
ms=$(steps act "$id" start ACTIVE) || fail "server start"
stateIs "$name" running || fail "after start corral says $(prop "$name" State)"
pid=$(prop "$name" Pid)
log "start: ACTIVE in $ms ms, qemu $pid"
wait_for 180 "the guest booting after start" bootText
n=$(boots "$name")
ms=$(steps act "$id" reboot-hard ACTIVE) || fail "server reboot --hard"
moreBoots() { [ "$(boots "$name")" -gt "$n" ]; }
wait_for 180 "a second boot in the console log after the reboot" moreBoots
stateIs "$name" running || fail "after reboot corral says $(prop "$name" State)"
log "reboot --hard: ACTIVE in $ms ms, booted again (qemu $(prop "$name" Pid))"
ms=$(steps act "$id" pause PAUSED) || fail "server pause"
stateIs "$name" paused || fail "after pause corral says $(prop "$name" State)"
log "pause: PAUSED in $ms ms"
ms=$(steps act "$id" unpause ACTIVE) || fail "server unpause"
stateIs "$name" running || fail "after unpause corral says $(prop "$name" State)"
log "unpause: ACTIVE in $ms ms"

# --- qemu dies: the driver's event, not the periodic sync (10 min), brings SHUTOFF
pid=$(prop "$name" Pid)
kill_ms=$(steps kill "$id" "$pid") || fail "SHUTOFF after kill -9"
log "kill -9 qemu $pid: SHUTOFF in Nova after $kill_ms ms"
[ "$kill_ms" -lt 2000 ] || fail "SHUTOFF took $kill_ms ms after the kill (bound 2000)"

# --- delete
ms=$(steps delete "$id") || fail "server delete"
c busctl call org.corral1 /org/corral1 org.corral1.Manager GetInstance s "$name" >/dev/null 2>&1 &&
    fail "$name still defined in corral after delete"
c test ! -e "/var/lib/nova/instances/corral/$id" || fail "the instance's disk dir is left"
log "delete: gone in $ms ms, undefined in corral, disk removed"

# --- the same create with Nova's FakeDriver, same cloud, same run
c systemd-run --unit nova-compute-fake --uid nova --gid nova /usr/bin/nova-compute \
    --config-file /etc/nova/nova.conf --config-file /opt/rig/fake-compute.conf >/dev/null
fakeUp() { os openstack compute service list --host fake-host -f value -c State | grep -x up >/dev/null; }
wait_for 180 "the FakeDriver's nova-compute up" fakeUp
c su -s /bin/sh -c "nova-manage cell_v2 discover_hosts" nova >/dev/null
read -r fid _fname ms < <(steps create vm2 m1.corral "$image" fake-host) || fail "create on FakeDriver"
create_fake_ms=$ms
log "server create -> ACTIVE with FakeDriver: $ms ms"
steps delete "$fid" >/dev/null || fail "delete on FakeDriver"
log "RESULT create->ACTIVE corral=${create_corral_ms}ms fake=${create_fake_ms}ms kill->SHUTOFF=${kill_ms}ms"
log "nova system test: passed in $(($(date +%s) - t_start)) s"

#!/bin/bash
# System test: corral's .deb installed and driven under a real systemd (PID 1 of a
# systemd-nspawn container, see rig.sh), with one TCG VM booting the test guest image.
#
#   run.sh SRCDIR GUEST_IMAGE_DIR PACKAGES_DIR
#
# Builds the .debs (incrementally) into PACKAGES_DIR (or takes $CORRAL_SYSTEM_DEB), boots the container, and runs the steps
# of the scenario in order. Each step prints "STEP <name>: ok (<ms>)" or "STEP <name>: FAILED"
# with the evidence; the first failure ends the run. The container is powered off and its
# cgroups, overlay and run directory removed on every path (trap).
set -euo pipefail

src=$(cd "$1" && pwd)
guest=$(cd "$2" && pwd)
pkgdir=$3
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=rig.sh
. "$here/rig.sh"

[ "$(id -u)" -eq 0 ] || { echo "system test: needs root (nspawn, cgroups, overlayfs)"; exit 1; }
for f in vmlinuz initrd.img; do
    [ -f "$guest/$f" ] || { echo "system test: $guest/$f missing (build target guest-image)"; exit 1; }
done

VM=t1
step_name=""
step_t0=0

step() {
    step_name=$1
    step_t0=$(date +%s%N)
    echo "--- $step_name"
}
ok() { echo "STEP $step_name: ok ($((($(date +%s%N) - step_t0) / 1000000)) ms)"; }
fail() {
    echo "STEP $step_name: FAILED: $*"
    exit 1
}

# In-container helpers (real system bus, real PID 1).
c() { rig_exec "$@"; }
instancePath() { echo "/org/corral1/instance/$VM"; }
prop() { c busctl get-property org.corral1 "$(instancePath)" org.corral1.Instance "$1" 2>/dev/null | cut -d' ' -f2- | tr -d '"'; }
unitState() { c systemctl is-active "corral@$VM.service" 2>/dev/null || true; }

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND every 100 ms until it succeeds.
wait_for() {
    local limit=$1 what=$2 deadline
    shift 2
    deadline=$(($(date +%s) + limit))
    until "$@"; do
        [ "$(date +%s)" -lt "$deadline" ] || fail "timed out after ${limit}s waiting for $what"
        sleep 0.1
    done
}
stateIs() { [ "$(prop State)" = "$1" ]; }
unitIs() { [ "$(unitState)" = "$1" ]; }
pidGone() { ! c test -d "/proc/$1"; }

dumpEvidence() {
    [ -n "${RIG_RUN:-}" ] && [ -s "${RIG_RUN}/leader" ] || return 0
    echo "--- evidence"
    c systemctl status --no-pager corrald.service "corral@$VM.service" 2>&1 | tail -n 40 || true
    c journalctl --no-pager -n 60 -u corrald.service -u "corral@$VM.service" 2>&1 || true
    c sh -c "tail -n 20 /run/corral/$VM/qemu.log" 2>&1 || true
}

cleanup() {
    local rc=$?
    [ $rc -eq 0 ] || dumpEvidence
    rig_cleanup
    pkill -P "$watchdog" 2>/dev/null || true
    kill "$watchdog" 2>/dev/null || true
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# ctest kills on its TIMEOUT without letting traps run: end (and clean up) before that.
(
    sleep "${SYSTEM_TEST_DEADLINE:-840}"
    echo "system test: over ${SYSTEM_TEST_DEADLINE:-840}s, stopping"
    kill -TERM $$
) &
watchdog=$!
rig_reap_stale

step build-deb
if [ -n "${CORRAL_SYSTEM_DEB:-}" ]; then
    deb=$CORRAL_SYSTEM_DEB # a prebuilt package, for iterating on the scenario
else
    debs=$(JOBS=${JOBS:-2} "$src/packaging/debian/build-deb.sh" "$src" "$pkgdir") ||
        fail "dpkg-buildpackage"
    deb=$(echo "$debs" | grep '/corral_[^/]*\.deb$')
fi
ok

step boot-container
rig_init "sys$$"
cp "$deb" "$RIG_RUN/share/"
rig_boot --bind-ro="$guest":/opt/guest || fail "container boot"
ok

step install-deb
c dpkg -i "/opt/rig/$(basename "$deb")" >"$RIG_RUN/dpkg.log" 2>&1 || {
    cat "$RIG_RUN/dpkg.log"
    fail "dpkg -i"
}
c getent group corral >/dev/null || fail "group corral not created by sysusers.d"
for f in /usr/sbin/corrald /usr/bin/corralctl; do
    c test -x "$f" || fail "$f not in the package"
done
ok

step systemd-analyze-verify
out=$(c systemd-analyze verify corrald.service "corral@$VM.service" 2>&1) || fail "$out"
[ -z "$out" ] || fail "warnings: $out"
ok

step start-corrald
c systemctl start corrald.service || fail "systemctl start corrald"
unitIsDaemon() { [ "$(c systemctl is-active corrald.service)" = active ]; }
wait_for 10 "corrald active" unitIsDaemon
c busctl get-property org.corral1 /org/corral1 org.corral1.Manager Version >/dev/null ||
    fail "org.corral1 not on the system bus"
ok

step define-instance
c sh -c "cat > /etc/corral/instances/$VM.toml" <<EOF
[machine]
type = "q35"
accel = "tcg"
cpus = 1
memory = "256M"

[boot]
kernel = "/opt/guest/vmlinuz"
initrd = "/opt/guest/initrd.img"
cmdline = "console=ttyS0 panic=-1"

[agent]
negotiator = false

[lifecycle]
shutdown_timeout = "10s"
on_crash = "stop"

[resources]
memory_max = "1G"
cpu_weight = 50
EOF
c systemctl reload corrald.service || fail "systemctl reload corrald (Manager.Reload)"
wait_for 10 "instance $VM published" stateIs stopped
ok

step start-vm-unit
c systemctl start "corral@$VM.service" || fail "systemctl start corral@$VM"
[ "$(unitState)" = active ] || fail "unit is $(unitState) right after start returned"
[ "$(prop State)" = running ] || fail "State=$(prop State) right after start returned"
pid=$(prop Pid)
[ "${pid:-0}" -gt 0 ] && c test -d "/proc/$pid" || fail "Pid=$pid is not a live process"
c grep -q qemu-system "/proc/$pid/cmdline" || fail "Pid $pid is not qemu"
ok

step vm-scope
cg=$(c cat "/proc/$pid/cgroup")
echo "$cg" | grep -q "machine.slice/corral-$VM.scope" || fail "qemu not in its scope: $cg"
mm=$(c systemctl show -P MemoryMax "corral-$VM.scope")
[ "$mm" = $((1024 * 1024 * 1024)) ] || fail "scope MemoryMax=$mm, want 1G"
cw=$(c systemctl show -P CPUWeight "corral-$VM.scope")
[ "$cw" = 50 ] || fail "scope CPUWeight=$cw, want 50"
ok

step journal
logs=$(c journalctl --no-pager -o cat -u "corral@$VM.service")
echo "$logs" | grep -qi running || fail "journalctl -u corral@$VM has no state line: $logs"
ok

step restart-corrald-keeps-vm
c systemctl restart corrald.service || fail "systemctl restart corrald"
wait_for 30 "instance reattached and running" stateIs running
[ "$(prop Pid)" = "$pid" ] || fail "qemu pid changed: $pid -> $(prop Pid)"
c test -d "/proc/$pid" || fail "qemu $pid died on daemon restart"
[ "$(unitState)" = active ] || fail "corral@$VM is $(unitState) after daemon restart"
ok

step policy-denies-non-root
denied=$(c runuser -u nobody -- busctl call org.corral1 "$(instancePath)" org.corral1.Instance Pause 2>&1) &&
    fail "nobody could call Pause: $denied"
echo "$denied" | grep -qi "access denied\|AccessDenied" || fail "unexpected error: $denied"
c runuser -u nobody -- busctl get-property org.corral1 "$(instancePath)" org.corral1.Instance State \
    >/dev/null || fail "nobody cannot read State"
c runuser -u nobody -- busctl call org.corral1 /org/corral1 org.corral1.Manager ListInstances \
    >/dev/null || fail "nobody cannot call ListInstances"
[ "$(prop State)" = running ] || fail "State=$(prop State) after the denied call"
ok

step stop-vm-unit
c systemctl stop "corral@$VM.service" || fail "systemctl stop corral@$VM"
[ "$(unitState)" = inactive ] || fail "unit is $(unitState) after stop"
wait_for 10 "qemu $pid gone" pidGone "$pid"
[ "$(prop State)" = stopped ] || fail "State=$(prop State) after stop"
ok

step guest-poweroff
c systemctl start "corral@$VM.service" || fail "systemctl start corral@$VM"
pid=$(prop Pid)
# The guest serves a root shell on its first serial port; keep asking until it powers off.
poweroffSent() {
    c sh -c "printf '\\npoweroff -f\\n' | socat -t1 - UNIX-CONNECT:/run/corral/$VM/serial.sock" \
        >/dev/null 2>&1 || true
    pidGone "$pid"
}
wait_for 90 "guest poweroff" poweroffSent
wait_for 10 "corral@$VM inactive" unitIs inactive
echo "LastExit=$(prop LastExit)"
ok

step killed-qemu-fails-unit
c systemctl start "corral@$VM.service" || fail "systemctl start corral@$VM"
pid=$(prop Pid)
c sh -c "kill -KILL $pid"
wait_for 15 "corral@$VM failed" unitIs failed
echo "LastExit=$(prop LastExit)"
ok

step enable-and-reboot
c systemctl reset-failed "corral@$VM.service"
c systemctl enable "corral@$VM.service" 2>/dev/null || fail "systemctl enable corral@$VM"
rig_poweroff
rig_boot --bind-ro="$guest":/opt/guest || fail "container reboot"
wait_for 60 "corral@$VM active after boot" unitIs active
wait_for 10 "State=running after boot" stateIs running
ok

step apt-remove-leaves-vm
pid=$(prop Pid)
c env DEBIAN_FRONTEND=noninteractive apt-get remove -y -q corral >"$RIG_RUN/remove.log" 2>&1 || {
    cat "$RIG_RUN/remove.log"
    fail "apt-get remove corral"
}
c test -d "/proc/$pid" || fail "qemu $pid was killed by the package removal"
[ "$(c systemctl is-active corrald.service || true)" != active ] || fail "corrald still active"
c sh -c "kill -KILL $pid"
ok

echo "system test: all steps passed"

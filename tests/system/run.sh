#!/bin/bash
# System test: corral's .deb installed and driven under a real systemd (PID 1 of a
# systemd-nspawn container, see rig.sh), with one TCG VM booting the test guest image.
#
#   run.sh SRCDIR GUEST_IMAGE_DIR PACKAGES_DIR
#
# Takes the newest corral .deb in PACKAGES_DIR (built by build-deb.sh, ctest system.build_deb)
# or $CORRAL_SYSTEM_DEB, boots the container and runs the scenario's steps in order. Each prints "STEP <name>: ok (<ms>)",
# "FAILED: <evidence>" or "SKIPPED (needs <step>)"; a failed step skips only the steps that
# need it. The container is powered off and its cgroups, overlay and run directory removed on
# every path (trap, plus a watchdog that ends the run before ctest's TIMEOUT would kill it).
set -euo pipefail

src=$(cd "$1" && pwd)
guest=$(cd "$2" && pwd)
pkgdir=$3
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=rig.sh
. "$here/rig.sh"
# shellcheck source=migrate.sh
. "$here/migrate.sh"

[ "$(id -u)" -eq 0 ] || { echo "system test: needs root (nspawn, cgroups, overlayfs)"; exit 1; }
for f in vmlinuz initrd.img; do
    [ -f "$guest/$f" ] || { echo "system test: $guest/$f missing (build target guest-image)"; exit 1; }
done

VM=t1
# Its own network namespace (with CAP_NET_ADMIN in it) and the tun device: corrald opens taps
# there for the NIC of the machined-network step, never on the host.
BOOT_OPTIONS=(--bind-ro="$guest":/opt/guest --private-network --bind=/dev/net/tun)
PASSED=" "
FAILED=""

# In-container helpers (real system bus, real PID 1).
c() { rig_exec "$@"; }
instancePath() { echo "/org/corral1/instance/$VM"; }
prop() {
    c busctl get-property org.corral1 "$(instancePath)" org.corral1.Instance "$1" 2>/dev/null |
        cut -d' ' -f2- | tr -d '"'
}
unitState() { c systemctl is-active "$1" 2>/dev/null || true; }
stateIs() { [ "$(prop State)" = "$1" ]; }
unitIs() { [ "$(unitState "corral@$VM.service")" = "$1" ]; }
daemonIs() { [ "$(unitState corrald.service)" = "$1" ]; }
pidGone() { ! c test -d "/proc/$1"; }
fail() {
    echo "FAILED: $*"
    exit 1
}

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

# run_step NAME [NEEDED_STEP...]: run function step_NAME in a subshell (so `fail` ends only
# that step) unless a needed step did not pass.
run_step() {
    local name=$1 need t0 rc=0
    shift
    # SYSTEM_TEST_STEPS="a b ...": only these steps (and the preparation) run, the others pass
    # unrun: for working on one step.
    if [ -n "${SYSTEM_TEST_STEPS:-}" ] && [[ " $SYSTEM_TEST_STEPS " != *" $name "* ]]; then
        PASSED="$PASSED$name "
        return 0
    fi
    for need in "$@"; do
        case "$PASSED" in *" $need "*) ;; *)
            echo "STEP $name: SKIPPED (needs $need)"
            FAILED="$FAILED $name"
            return 0
            ;;
        esac
    done
    echo "--- $name"
    t0=$(date +%s%N)
    (set -e && "step_${name//-/_}") || rc=$?
    if [ $rc -eq 0 ]; then
        echo "STEP $name: ok ($((($(date +%s%N) - t0) / 1000000)) ms)"
        PASSED="$PASSED$name "
    else
        echo "STEP $name: FAILED"
        FAILED="$FAILED $name"
        dumpEvidence
    fi
}

dumpEvidence() {
    [ -n "${RIG_RUN:-}" ] && [ -s "$RIG_RUN/leader" ] || return 0
    echo "--- evidence"
    c systemctl status --no-pager -n 0 corrald.service "corral@$VM.service" 2>&1 || true
    c journalctl --no-pager -n 30 -u corrald.service -u "corral@$VM.service" 2>&1 || true
    c sh -c "tail -n 10 /var/log/corral/$VM/qemu.log" 2>&1 || true
}

step_find_deb() {
    local deb=${CORRAL_SYSTEM_DEB:-}
    [ -n "$deb" ] || deb=$(ls -t "$pkgdir"/corral_*_"$(dpkg --print-architecture)".deb 2>/dev/null | head -n1)
    [ -f "$deb" ] || fail "no corral .deb in $pkgdir (ctest test system.build_deb builds it)"
    echo "package: $deb"
    cp "$deb" "$pkgdir/system-test.deb"
}

step_boot_container() {
    cp "$pkgdir/system-test.deb" "$RIG_RUN/share/corral.deb"
    rig_boot "${BOOT_OPTIONS[@]}" || fail "container boot"
}

step_install_deb() {
    c dpkg -i /opt/rig/corral.deb >"$RIG_RUN/dpkg.log" 2>&1 || fail "dpkg -i: $(cat "$RIG_RUN/dpkg.log")"
    c getent group corral >/dev/null || fail "group corral not created (sysusers.d)"
    local f
    for f in /usr/sbin/corrald /usr/bin/corralctl /usr/share/dbus-1/system.d/org.corral1.conf; do
        c test -e "$f" || fail "$f is not in the package"
    done
    for f in architecture dbus-api reliability performance; do
        c dpkg -L corral | grep "^/usr/share/doc/corral/$f\.md" >/dev/null || fail "docs/$f.md is not in the package"
    done
}

step_systemd_analyze_verify() {
    local out
    out=$(c systemd-analyze verify corrald.service "corral@$VM.service" corral-guests.service 2>&1) ||
        fail "$out"
    [ -z "$out" ] || fail "warnings: $out"
}

step_start_corrald() {
    c systemctl start corrald.service || fail "systemctl start corrald"
    daemonIs active || fail "corrald is $(unitState corrald.service) after start returned"
    c busctl get-property org.corral1 /org/corral1 org.corral1.Manager Version >/dev/null ||
        fail "org.corral1 is not on the system bus"
}

step_define_instance() {
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
    wait_for 10 "instance $VM published as stopped" stateIs stopped
}

step_start_vm_unit() {
    c systemctl start "corral@$VM.service" || fail "systemctl start corral@$VM"
    unitIs active || fail "unit is $(unitState "corral@$VM.service") right after start returned"
    stateIs running || fail "State=$(prop State) right after start returned"
    local pid
    pid=$(prop Pid)
    [ "${pid:-0}" -gt 0 ] && c grep -q qemu-system "/proc/$pid/cmdline" ||
        fail "Pid=$pid is not a live qemu"
}

step_vm_scope() {
    local pid cg mm cw
    pid=$(prop Pid)
    cg=$(c cat "/proc/$pid/cgroup")
    grep -q "machine.slice/corral-$VM.scope" <<<"$cg" || fail "qemu not in its scope: $cg"
    mm=$(c systemctl show -P MemoryMax "corral-$VM.scope")
    [ "$mm" = $((1024 * 1024 * 1024)) ] || fail "scope MemoryMax=$mm, want 1G"
    cw=$(c systemctl show -P CPUWeight "corral-$VM.scope")
    [ "$cw" = 50 ] || fail "scope CPUWeight=$cw, want 50"
}

# Under systemd the statistics come from the VM's own scope (cgroup v2 cpu.stat, memory.current,
# PSI), not from the qemu process: the branch real hosts run.
step_vm_stats() {
    local scope cpu mem current pressure
    stat() { c busctl get-property org.corral1 "$(instancePath)" org.corral1.Instance.Stats "$1"; }
    fromScope() { [ "$(stat Source 2>/dev/null)" = 's "cgroup"' ]; }
    # A read answers the cache and starts a refresh: poll until a sample from the scope lands.
    if ! (wait_for 10 "Stats Source=cgroup" fromScope); then
        local pid
        pid=$(prop Pid)
        fail "Stats Source=$(stat Source); qemu's cgroups: $(c cat "/proc/$pid/cgroup" | tr '\n' ' ');" \
            "$(c sh -c "ls -d /sys/fs/cgroup/cgroup.controllers /sys/fs/cgroup/unified/machine.slice/corral-$VM.scope/cpu.stat /sys/fs/cgroup/memory/machine.slice/corral-$VM.scope/memory.usage_in_bytes 2>&1" | tr '\n' ' ')"
    fi
    # A unified host, or systemd's hybrid mode (cgroup v2 at /sys/fs/cgroup/unified, controllers
    # in v1), as in this container on a host whose init is not systemd: corrald reads either. Its
    # memory figure is the scope's when a memory controller accounts it, else qemu's RSS.
    local pid unified usage
    pid=$(prop Pid)
    unified=/sys/fs/cgroup
    c test -e $unified/cgroup.controllers || unified=/sys/fs/cgroup/unified
    scope=$unified/machine.slice/corral-$VM.scope
    if c test -e "$scope/memory.current"; then
        current=$(c cat "$scope/memory.current")
    elif c test -e "/sys/fs/cgroup/memory/machine.slice/corral-$VM.scope/memory.usage_in_bytes"; then
        current=$(c cat "/sys/fs/cgroup/memory/machine.slice/corral-$VM.scope/memory.usage_in_bytes")
    else
        current=$(($(c awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status") * 1024))
    fi
    cpu=$(stat CpuUsec | cut -d' ' -f2)
    usage=$(c sed -n 's/^usage_usec //p' "$scope/cpu.stat")
    [ "${cpu:-0}" -gt 0 ] && [ "$cpu" -le "$usage" ] ||
        fail "CpuUsec=$cpu, the scope's cpu.stat usage_usec read after it: $usage"
    mem=$(stat MemoryBytes | cut -d' ' -f2)
    # The same counter read a moment apart: within a quarter of each other.
    [ "${mem:-0}" -gt $((current * 3 / 4)) ] && [ "$mem" -lt $((current * 5 / 4)) ] ||
        fail "MemoryBytes=$mem, the counter it comes from reads $current"
    pressure=$(stat Pressure)
    grep -Eq '^\(ttt\) [0-9]+ [0-9]+ [0-9]+$' <<<"$pressure" || fail "Pressure=$pressure"
    c test -r "$scope/cpu.pressure" || fail "no PSI in $scope"
}

# Update of a running VM (the define API): new limits reach its scope at once, everything else
# waits for the next start and is listed as pending.
step_update_running() {
    local toml out cw mm
    toml=$(c cat "/etc/corral/instances/$VM.toml" | sed 's/^cpu_weight = 50$/cpu_weight = 80/;
        s/^memory_max = "1G"$/memory_max = "2G"/; s/^cpus = 1$/cpus = 2/')
    out=$(c busctl call org.corral1 "$(instancePath)" org.corral1.Instance Update s "$toml" 2>&1) ||
        fail "Update: $out"
    [ "$out" = 'as 1 "machine.cpus"' ] || fail "Update replied '$out', want only machine.cpus pending"
    cwIs80() { [ "$(c systemctl show -P CPUWeight "corral-$VM.scope")" = 80 ]; }
    wait_for 10 "the scope's CPUWeight to become 80" cwIs80
    mm=$(c systemctl show -P MemoryMax "corral-$VM.scope")
    [ "$mm" = $((2 * 1024 * 1024 * 1024)) ] || fail "scope MemoryMax=$mm, want 2G"
    stateIs running || fail "State=$(prop State) after Update"
    [ "$(prop Vcpus)" = 1 ] || fail "Vcpus=$(prop Vcpus): the running VM has 1 until it restarts"
}

# machinectl's view of the VM: class vm, service corral, its scope as unit, qemu as leader and
# the instance's Uuid as machine id.
machineShown() {
    local pid status id
    pid=$(prop Pid)
    c machinectl list --no-legend --no-pager | grep -Eq "^$VM +vm +corral( |$)" ||
        fail "machinectl list: $(c machinectl list --no-pager 2>&1)"
    status=$(c machinectl status --no-pager "$VM" 2>&1) || fail "machinectl status $VM: $status"
    grep -Eq "Leader: $pid( |$)" <<<"$status" || fail "Leader is not qemu $pid: $status"
    grep -q "Unit: corral-$VM.scope" <<<"$status" || fail "Unit is not corral-$VM.scope: $status"
    id=$(c machinectl show --property=Id --value "$VM")
    [ "$id" = "$(prop Uuid | tr -d -)" ] || fail "machine Id $id is not Uuid $(prop Uuid)"
}
machineListed() { c machinectl list --no-legend --no-pager | grep -Eq "^$VM "; }

step_machined_registered() {
    wait_for 10 "$VM in machinectl list" machineListed
    machineShown
    c machinectl status --no-pager "$VM" | head -n 6
}

step_machined_after_restart() {
    wait_for 10 "$VM in machinectl list" machineListed
    machineShown
    registeredAgain() {
        c journalctl --no-pager -o cat -u corrald.service | grep -q "$VM: already registered"
    }
    wait_for 10 "corrald's journal line about the registration it found" registeredAgain
}

step_machined_unregistered() {
    machineGone() { ! machineListed; }
    wait_for 10 "$VM gone from machinectl list" machineGone
    # Which of the two happened first: UnregisterMachine, or machined's own cleanup of the scope.
    unregisterAnswered() {
        c journalctl --no-pager -o cat -u corrald.service |
            grep -E "$VM: (unregistered from|systemd-machined had already dropped)"
    }
    wait_for 10 "corrald's journal line about UnregisterMachine" unregisterAnswered >/dev/null
    unregisterAnswered | tail -n 1
}

# A VM with a tap NIC is registered with its interface (RegisterMachineWithNetwork).
step_machined_network() {
    c sh -c "cat > /etc/corral/instances/n1.toml" <<EOF
[machine]
type = "pc"
accel = "tcg"
memory = "128M"
[boot]
kernel = "/opt/guest/vmlinuz"
initrd = "/opt/guest/initrd.img"
[[nic]]
id = "eth0"
mode = "tap"
[agent]
negotiator = false
EOF
    c systemctl reload corrald.service || fail "systemctl reload corrald"
    c systemctl start corral@n1.service ||
        fail "systemctl start corral@n1: $(c journalctl --no-pager -o cat -n 5 -u corral@n1.service)"
    n1Listed() { c machinectl list --no-legend --no-pager | grep -Eq "^n1 +vm +corral"; }
    wait_for 10 "n1 in machinectl list" n1Listed
    local tap status
    tap=$(c ls /sys/class/net | grep -v '^lo$' | head -n 1)
    [ -n "$tap" ] || fail "no tap in the container's network namespace"
    status=$(c machinectl status --no-pager n1 2>&1)
    grep -E "Iface:" <<<"$status" || fail "machinectl status n1 lists no interface: $status"
    grep -Eq "Iface: .*$tap" <<<"$status" || fail "the interface is not the tap $tap: $status"
    c systemctl stop corral@n1.service || fail "systemctl stop corral@n1"
    n1Gone() { ! n1Listed; }
    wait_for 10 "n1 gone from machinectl list" n1Gone
    c rm /etc/corral/instances/n1.toml
    c systemctl reload corrald.service
}

step_journal() {
    journalHasState() { c journalctl --no-pager -o cat -u "corral@$VM.service" | grep -qi running; }
    # journald receives the unit's stdout asynchronously.
    wait_for 10 "a state line in journalctl -u corral@$VM" journalHasState
    # corrald's own lines about the VM are in the unit's journal too (OBJECT_SYSTEMD_UNIT), and
    # under their instance field.
    corraldLineInUnit() {
        c journalctl --no-pager -o cat -u "corral@$VM.service" | grep -q "^$VM: started (pid"
    }
    wait_for 10 "corrald's '$VM: started' line in journalctl -u corral@$VM" corraldLineInUnit
    c journalctl --no-pager -o cat CORRAL_INSTANCE="$VM" | grep -q "^$VM: started (pid" ||
        fail "journalctl CORRAL_INSTANCE=$VM has no '$VM: started' line of corrald"
    echo "journalctl -u corral@$VM: $(c journalctl --no-pager -o cat -u "corral@$VM.service" | grep -c "^$VM: ") lines of corrald"
}

step_restart_corrald_keeps_vm() {
    local pid
    pid=$(prop Pid)
    c systemctl restart corrald.service || fail "systemctl restart corrald"
    wait_for 30 "instance reattached and running" stateIs running
    [ "$(prop Pid)" = "$pid" ] || fail "qemu pid changed: $pid -> $(prop Pid)"
    c test -d "/proc/$pid" || fail "qemu $pid died on daemon restart"
    unitIs active || fail "corral@$VM is $(unitState "corral@$VM.service") after the restart"
}

step_policy_denies_non_root() {
    local denied
    denied=$(c runuser -u nobody -- busctl call org.corral1 "$(instancePath)" \
        org.corral1.Instance Pause 2>&1) && fail "nobody could call Pause: $denied"
    grep -qi "access denied\|AccessDenied" <<<"$denied" || fail "unexpected error: $denied"
    c runuser -u nobody -- busctl get-property org.corral1 "$(instancePath)" \
        org.corral1.Instance State >/dev/null || fail "nobody cannot read State"
    c runuser -u nobody -- busctl call org.corral1 /org/corral1 org.corral1.Manager \
        ListInstances >/dev/null || fail "nobody cannot call ListInstances"
    stateIs running || fail "State=$(prop State) after the denied call"
    # Members of group corral may call methods (dbus policy and corrald must both allow it).
    c useradd --system --no-create-home --groups corral vmadmin 2>/dev/null || true
    c runuser -u vmadmin -- busctl call org.corral1 /org/corral1 org.corral1.Manager Reload ||
        fail "a member of group corral cannot call Manager.Reload"
}

# The define API's second check, inside corrald: a member of group corral may read a definition
# (the bus policy lets it call methods) but not Define, Update or Undefine.
step_group_corral_reads_but_does_not_define() {
    local out
    c sh -c 'id op >/dev/null 2>&1 || useradd --no-create-home --groups corral op' ||
        fail "cannot add user op to group corral"
    out=$(c runuser -u op -- busctl call org.corral1 "$(instancePath)" org.corral1.Instance \
        GetDefinition 2>&1) || fail "op (group corral) cannot GetDefinition: $out"
    grep -q 'cpu_weight' <<<"$out" || fail "GetDefinition gave: $out"
    out=$(c runuser -u op -- busctl call org.corral1 /org/corral1 org.corral1.Manager Define \
        ssa{sv} op1 "[machine]" 0 2>&1) && fail "op could Define: $out"
    grep -q "Define needs root" <<<"$out" || fail "Define by op: $out"
    c test ! -e /etc/corral/instances/op1.toml || fail "op's Define wrote a file"
    out=$(c runuser -u op -- busctl call org.corral1 "$(instancePath)" org.corral1.Instance \
        Undefine a{sv} 0 2>&1) && fail "op could Undefine: $out"
    grep -q "Undefine needs root" <<<"$out" || fail "Undefine by op: $out"
}

step_stop_vm_unit() {
    local pid
    pid=$(prop Pid)
    c systemctl stop "corral@$VM.service" || fail "systemctl stop corral@$VM"
    unitIs inactive || fail "unit is $(unitState "corral@$VM.service") after stop"
    wait_for 10 "qemu $pid gone" pidGone "$pid"
    stateIs stopped || fail "State=$(prop State) after stop"
    echo "LastExit=$(prop LastExit)"
}

step_guest_poweroff() {
    local pid
    c systemctl start "corral@$VM.service" || fail "systemctl start corral@$VM"
    pid=$(prop Pid)
    # The guest serves a root shell on its first serial port; ask until it powers off.
    poweroffSent() {
        c sh -c "printf '\\npoweroff -f\\n' | socat -t1 - UNIX-CONNECT:/run/corral/$VM/serial.sock" \
            >/dev/null 2>&1 || true
        pidGone "$pid"
    }
    wait_for 150 "guest poweroff" poweroffSent
    wait_for 10 "corral@$VM inactive" unitIs inactive
    echo "LastExit=$(prop LastExit)"
}

step_killed_qemu_fails_unit() {
    local pid
    c systemctl reset-failed "corral@$VM.service" 2>/dev/null || true
    c systemctl start "corral@$VM.service" || fail "systemctl start corral@$VM"
    pid=$(prop Pid)
    c sh -c "kill -KILL $pid"
    wait_for 15 "corral@$VM failed" unitIs failed
    echo "LastExit=$(prop LastExit)"
}

# writeVm NAME ON_CRASH: a small TCG VM definition in the instances dir (no Reload).
writeVm() {
    c sh -c "cat > /etc/corral/instances/$1.toml" <<EOF
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
shutdown_timeout = "20s"
on_crash = "$2"
EOF
}
# vmProp NAME PROPERTY
vmProp() {
    c busctl get-property org.corral1 "/org/corral1/instance/$1" org.corral1.Instance "$2" \
        2>/dev/null | cut -d' ' -f2- | tr -d '"'
}
vmStateIs() { [ "$(vmProp "$1" State)" = "$2" ]; }
vmUnitIs() { [ "$(unitState "corral@$1.service")" = "$2" ]; }

# Disk images in /tmp and /home are the administrator's: qemu inherits corrald.service's mount
# namespace, where PrivateTmp= hid /tmp ("not found") and ProtectHome=read-only made /home
# read-only, while corral-validate, outside it, found both fine.
step_disks_in_tmp_and_home() {
    c sh -c "mkdir -p /home/vmimages && truncate -s 16M /tmp/corral-d1.img /home/vmimages/d1.img"
    writeVm d1 stop
    c sh -c "printf '[[disk]]\npath = \"/tmp/corral-d1.img\"\nformat = \"raw\"\n[[disk]]\npath = \"/home/vmimages/d1.img\"\nformat = \"raw\"\n' >> /etc/corral/instances/d1.toml"
    c corral-validate /etc/corral/instances/d1.toml || fail "corral-validate refuses d1"
    c corralctl reload >/dev/null || fail "corralctl reload"
    c corralctl start d1 || fail "corralctl start d1: $(c tail -n 3 /var/log/corral/d1/qemu.log)"
    local blocks
    blocks=$(c corralctl monitor d1 '{"execute":"query-block"}')
    for image in /tmp/corral-d1.img /home/vmimages/d1.img; do
        grep -q "\"file\": *\"$image\"" <<<"$blocks" || fail "qemu has no $image: $blocks"
    done
    grep -q '"ro": *true' <<<"$blocks" && fail "a disk is read-only in qemu: $blocks"
    # A clean end (ACPI): corrald started corral@d1 to follow the VM, which must not end failed.
    c corralctl shutdown d1 >/dev/null || fail "corralctl shutdown d1"
    wait_for 30 "d1 stopped" vmStateIs d1 stopped
    c rm -f /etc/corral/instances/d1.toml /tmp/corral-d1.img /home/vmimages/d1.img
    c corralctl reload >/dev/null || true
}

# A definition written after corrald's last Reload: systemctl start finds it (one Reload by the
# unit's corralctl run), no status=3/NOTIMPLEMENTED.
step_unit_new_definition() {
    writeVm r1 restart
    c systemctl start corral@r1.service ||
        fail "systemctl start corral@r1: $(c journalctl --no-pager -o cat -n 5 -u corral@r1.service)"
    vmUnitIs r1 active || fail "corral@r1 is $(unitState corral@r1.service)"
    vmStateIs r1 running || fail "r1 State=$(vmProp r1 State)"
}

# on_crash = "restart": corrald restarts the VM and the unit stays active with the same
# corralctl run following it (never failed in between).
step_unit_crash_restart() {
    local pid main
    pid=$(vmProp r1 Pid)
    main=$(c systemctl show -P MainPID corral@r1.service)
    c sh -c "kill -KILL $pid"
    restarted() { vmStateIs r1 running && [ "$(vmProp r1 Pid)" != "$pid" ]; }
    wait_for 30 "r1 restarted by on_crash=restart" restarted
    vmUnitIs r1 active || fail "corral@r1 is $(unitState corral@r1.service) after the restart"
    [ "$(c systemctl show -P MainPID corral@r1.service)" = "$main" ] ||
        fail "corral@r1's corralctl run changed: $main -> $(c systemctl show -P MainPID corral@r1.service)"
    [ "$(c systemctl show -P NRestarts corral@r1.service)" = 0 ] || fail "the unit restarted"
}

# systemctl kill (SIGTERM to corralctl run): the VM is shut down, the unit ends inactive.
step_unit_kill() {
    local pid
    pid=$(vmProp r1 Pid)
    c systemctl kill corral@r1.service || fail "systemctl kill corral@r1"
    wait_for 60 "qemu $pid gone after systemctl kill" pidGone "$pid"
    wait_for 10 "corral@r1 inactive" vmUnitIs r1 inactive
    vmStateIs r1 stopped || fail "r1 State=$(vmProp r1 State)"
    echo "LastExit=$(vmProp r1 LastExit)"
}

# A VM started with corralctl: corrald starts corral@r1, whose corralctl run follows it.
step_unit_follows_corralctl() {
    c corralctl start r1 || fail "corralctl start r1"
    wait_for 15 "corral@r1 active after corralctl start" vmUnitIs r1 active
    followed() { c journalctl --no-pager -o cat -u corral@r1.service | grep -q "r1: already running"; }
    wait_for 10 "corral@r1's corralctl run following the running VM" followed
}

# systemctl stop while corrald is stopped: D-Bus activation brings corrald back for ExecStop=.
step_unit_stop_without_corrald() {
    local pid
    pid=$(vmProp r1 Pid)
    [ "${pid:-0}" -gt 0 ] || fail "r1 is not running"
    c systemctl stop corrald.service || fail "systemctl stop corrald"
    daemonIs inactive || fail "corrald is $(unitState corrald.service)"
    c timeout 90 systemctl stop corral@r1.service || fail "systemctl stop corral@r1 failed"
    pidGone "$pid" || fail "qemu $pid still runs after systemctl stop corral@r1"
    daemonIs active || fail "corrald was not activated: $(unitState corrald.service)"
    vmUnitIs r1 inactive || fail "corral@r1 is $(unitState corral@r1.service)"
    vmStateIs r1 stopped || fail "r1 State=$(vmProp r1 State)"
    c rm /etc/corral/instances/r1.toml
    c systemctl reload corrald.service
}

# consoleLog NAME: copy the VM's serial console into /var/tmp/NAME.console (on the overlay, so it
# survives the reboot) from a unit ordered like the scopes: stopped only after corral-guests.
consoleLog() {
    c rm -f "/var/tmp/$1.console"
    c systemd-run --quiet --unit="rig-console-$1" -p Before=corral-guests.service \
        socat -u "UNIX-CONNECT:/run/corral/$1/serial.sock" "OPEN:/var/tmp/$1.console,creat,append" ||
        fail "cannot log $1's console"
}
guestReady() { c grep -q "corral-guest: userspace ready" "/var/tmp/$1.console" 2>/dev/null; }

# Host reboot: two VMs (t1 `systemctl enable`d, h2 started with corralctl) each power off on
# ACPI before systemd stops their scopes (their own console line, written by the guest), all
# within the phase; corrald's journal of that boot says host-shutdown; t1 is back after boot.
step_enable_and_reboot() {
    local rc
    c systemctl reset-failed "corral@$VM.service" 2>/dev/null || true
    c systemctl enable "corral@$VM.service" 2>/dev/null || fail "systemctl enable corral@$VM"
    c systemctl start "corral@$VM.service" || fail "systemctl start corral@$VM"
    consoleLog "$VM"
    writeVm h2 stop
    c systemctl reload corrald.service || fail "systemctl reload corrald"
    c corralctl start h2 || fail "corralctl start h2"
    consoleLog h2
    wait_for 15 "corral@h2 active (it follows the VM corralctl started)" vmUnitIs h2 active
    wait_for 150 "t1's guest up" guestReady "$VM"
    wait_for 150 "h2's guest up" guestReady h2
    # The previous boot's journal is read after the reboot.
    c mkdir -p /var/log/journal
    c journalctl --flush
    c systemctl reboot || fail "systemctl reboot"
    rc=$(rig_wait_exit 120) || fail "the container did not go down within 120 s"
    [ "$rc" = 133 ] || fail "nspawn exited with $rc, not 133 (reboot)"
    rig_boot "${BOOT_OPTIONS[@]}" || fail "container boot after the reboot"
    local vm log
    for vm in "$VM" h2; do
        # The line the guest prints when the ACPI event arrives, not its "... on /dev/input" setup line.
        c grep -Eq "corral-guest: power button"$'\r'"?$" "/var/tmp/$vm.console" ||
            fail "$vm's guest saw no ACPI power button: $(c tail -n 5 "/var/tmp/$vm.console")"
    done
    # The previous boot's journal, from the start of the host shutdown phase on.
    log=$(c journalctl --no-pager -b -1 -o short-monotonic 2>&1 |
        sed -n '/host shutdown: shutting down/,$p')
    [ -n "$log" ] || fail "no host shutdown phase in the previous boot's journal"
    for vm in "$VM" h2; do
        grep -q "host shutdown: $vm ended (host-shutdown)" <<<"$log" ||
            fail "no host-shutdown for $vm in the previous boot's journal: $(echo "$log" | grep -i "host shutdown")"
        grep -Eq "$vm: crashed" <<<"$log" && fail "$vm recorded as crashed"
    done
    # corrald outlives the corral@ units: their ExecStop= never fails on a daemon going away.
    grep -E "corral@($VM|h2)\.service: (Failed|Control process exited)" <<<"$log" &&
        fail "a corral@ unit failed during the host shutdown"
    { grep -E "host shutdown:|corral-(guests\.service|$VM\.scope|h2\.scope)|Stopp.*corral" <<<"$log" ||
        true; } | head -n 16
    # The phase ends before systemd stops the scopes: no scope was stopped (SIGTERM) while it ran.
    sed '/host shutdown: done/q' <<<"$log" | grep -E "Stopping corral-($VM|h2)\.scope" &&
        fail "systemd stopped a VM's scope before the phase ended"
    wait_for 60 "corral@$VM active after boot" unitIs active
    wait_for 10 "State=running after boot" stateIs running
    vmStateIs h2 stopped || fail "h2 (not enabled) is $(vmProp h2 State) after boot"
}

# setHostPolicy VALUE: [host] on_shutdown in corral.toml; corrald restarted (the VMs run on).
setHostPolicy() {
    c sed -i "s/^#\\?on_shutdown *=.*/on_shutdown = \"$1\"/" /etc/corral/corral.toml ||
        fail "cannot set on_shutdown"
    c grep -q "^on_shutdown = \"$1\"" /etc/corral/corral.toml || fail "no on_shutdown line to set"
    c systemctl restart corrald.service || fail "corrald did not restart with on_shutdown = $1"
}
# lastCounter NAME FILE: the last "counter N pid P" line the guest wrote, as "N P".
lastCounter() {
    c sh -c "grep -a 'corral-guest: counter' $2 | tail -n 1" | tr -d '\r' |
        sed -n 's/.*counter \([0-9]*\) pid \([0-9]*\)$/\1 \2/p'
}

# on_shutdown = "suspend": a VM started with corralctl (not enabled) whose guest counts is saved
# at `systemctl reboot` and restored after the boot: the same process counts on, the guest did
# not boot again. t1 (enabled) comes back through its unit, restored as well.
step_suspend_and_reboot() {
    local rc before after log
    setHostPolicy suspend
    c sh -c "sed 's/panic=-1/panic=-1 corral.counter/' /etc/corral/instances/h2.toml \
        > /etc/corral/instances/s3.toml && sed -i 's/^on_crash.*/on_crash = \"stop\"/' \
        /etc/corral/instances/s3.toml" || fail "cannot write s3"
    c systemctl reload corrald.service || fail "systemctl reload corrald"
    c corralctl start s3 || fail "corralctl start s3"
    consoleLog s3
    counting() { [ -n "$(lastCounter s3 /var/tmp/s3.console)" ]; }
    wait_for 150 "s3's guest counting" counting
    before=$(lastCounter s3 /var/tmp/s3.console)
    c journalctl --flush
    c systemctl reboot || fail "systemctl reboot"
    rc=$(rig_wait_exit 120) || fail "the container did not go down within 120 s"
    [ "$rc" = 133 ] || fail "nspawn exited with $rc, not 133 (reboot)"
    rig_boot "${BOOT_OPTIONS[@]}" || fail "container boot after the reboot"
    log=$(c journalctl --no-pager -b -1 -o cat 2>&1 | sed -n '/host shutdown: saving/,$p')
    grep -E "host shutdown:|saved|saving" <<<"$log" | head -n 12
    # A here-string, not a pipe: grep -q leaving early must not fail the check (pipefail).
    grep -q "host shutdown: s3 ended (host-shutdown: saved)" <<<"$log" ||
        fail "s3 was not saved at host shutdown"
    wait_for 60 "s3 restored after boot" vmStateIs s3 running
    wait_for 60 "corral@$VM active after boot" unitIs active
    [ "$(vmProp s3 HasSavedState)" = false ] || fail "s3's saved state is still there"
    c rm -f /var/tmp/s3.after
    c systemd-run --quiet --unit=rig-console-s3-after \
        socat -u UNIX-CONNECT:/run/corral/s3/serial.sock OPEN:/var/tmp/s3.after,creat,append ||
        fail "cannot log s3's console after the boot"
    counted() { [ -n "$(lastCounter s3 /var/tmp/s3.after)" ]; }
    wait_for 30 "s3's counter after the boot" counted
    after=$(lastCounter s3 /var/tmp/s3.after)
    echo "counter before the reboot: $before; after: $after"
    [ "${after#* }" = "${before#* }" ] || fail "another counter process after the restore: $before -> $after"
    [ "${after% *}" -gt "${before% *}" ] || fail "the counter did not go on: $before -> $after"
    c grep -aq "userspace ready" /var/tmp/s3.after && fail "s3's guest booted again"
    c corralctl kill s3 >/dev/null
    setHostPolicy shutdown
}

# apt remove: prerm stops corral-guests.service, which shuts the running VM down gracefully,
# then corrald; no qemu is left orphaned.
step_apt_remove_stops_vms() {
    local pid
    pid=$(prop Pid)
    [ "${pid:-0}" -gt 0 ] || fail "no VM running before the removal"
    c env DEBIAN_FRONTEND=noninteractive apt-get remove -y -q corral >"$RIG_RUN/remove.log" 2>&1 ||
        fail "apt-get remove corral: $(cat "$RIG_RUN/remove.log")"
    pidGone "$pid" || { c sh -c "kill -KILL $pid"; fail "qemu $pid still runs after the removal"; }
    daemonIs active && fail "corrald still active after removal"
    shutdownLogged() {
        c journalctl --no-pager -o cat _SYSTEMD_UNIT=corrald.service |
            grep -q "host shutdown: $VM ended (host-shutdown"
    }
    # journald receives corrald's stderr asynchronously.
    wait_for 10 "t1's host-shutdown line in corrald's journal" shutdownLogged
}

cleanup() {
    local rc=$?
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
) 2>/dev/null &
watchdog=$!
rig_reap_stale
mkdir -p "$pkgdir"
pkgdir=$(cd "$pkgdir" && pwd)
t_start=$(date +%s)

run_step find-deb
echo "--- prepare-rootfs"
rig_init "sys$$" || { echo "STEP prepare-rootfs: FAILED (debootstrap/apt, see above)"; exit 1; }
run_step boot-container find-deb
run_step install-deb boot-container
run_step systemd-analyze-verify install-deb
run_step start-corrald install-deb
run_step define-instance start-corrald
run_step start-vm-unit define-instance
run_step vm-scope start-vm-unit
run_step vm-stats vm-scope
run_step update-running vm-scope
run_step machined-registered vm-scope
run_step machined-network machined-registered
run_step journal start-vm-unit
run_step restart-corrald-keeps-vm start-vm-unit
run_step machined-after-restart machined-registered restart-corrald-keeps-vm
run_step policy-denies-non-root start-vm-unit
run_step group-corral-reads-but-does-not-define start-vm-unit
run_step stop-vm-unit start-vm-unit
run_step machined-unregistered machined-registered stop-vm-unit
run_step guest-poweroff define-instance
run_step killed-qemu-fails-unit define-instance
run_step disks-in-tmp-and-home start-corrald
run_step unit-new-definition start-corrald
run_step unit-crash-restart unit-new-definition
run_step unit-kill unit-new-definition
run_step unit-follows-corralctl unit-new-definition
run_step unit-stop-without-corrald unit-follows-corralctl
run_step migrated-source-unit start-vm-unit
run_step enable-and-reboot define-instance
run_step suspend-and-reboot enable-and-reboot
run_step apt-remove-stops-vms enable-and-reboot

echo "system test: $(($(date +%s) - t_start)) s"
[ -z "$FAILED" ] || { echo "system test: FAILED steps:$FAILED"; exit 1; }
echo "system test: all steps passed"

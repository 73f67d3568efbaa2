#!/bin/bash
# corral demo: boot a real VM under corrald on a private D-Bus and drive it end to end.
#
#   run-demo.sh BUILD_DIR
#
# Uses the guest image from BUILD_DIR/guest-image (Debian kernel + busybox + negotiator-guest),
# a private dbus-daemon and private instance/runtime directories. Every process it starts is
# stopped by pid when it ends, on success and on failure.
set -euo pipefail

build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
bin="$build/supervisor"
corrald="$bin/corrald"
corralctl="$bin/corralctl"
image="$build/guest-image"
for f in "$corrald" "$corralctl" "$image/vmlinuz" "$image/initrd.img"; do
    [ -e "$f" ] || { echo "demo: $f is missing (run 'make demo', which builds it)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/corral-demo.XXXXXX)
pids=()
cleanup() {
    local rc=$?
    for f in "$work"/run/*/qemu.pid; do
        [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
    done
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill "${pids[i]}" 2>/dev/null || true
        wait "${pids[i]}" 2>/dev/null || true
    done
    rm -rf "$work"
    if [ $rc -eq 0 ]; then echo "demo: finished, nothing left running"; else echo "demo: FAILED (exit $rc)" >&2; fi
}
trap cleanup EXIT

n=0
step() { n=$((n + 1)); printf '\n\033[1m== %d. %s\033[0m\n' "$n" "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

# Bounded wait for a condition command to succeed.
wait_for() {
    local what=$1 seconds=$2; shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || { echo "demo: timed out after ${seconds}s waiting for $what" >&2; return 1; }
        sleep 0.1
    done
}

mkdir -p "$work/instances" "$work/run"
sed -e "s|^kernel *=.*|kernel = \"$image/vmlinuz\"|" \
    -e "s|^initrd *=.*|initrd = \"$image/initrd.img\"|" \
    "$src/etc/instances/demo.toml" > "$work/instances/demo.toml"

step "A private D-Bus bus for the demo"
exec 3>"$work/bus.address"
dbus-daemon --session --nofork --nopidfile --print-address=3 &
pids+=($!)
exec 3>&-
wait_for "dbus-daemon" 10 test -s "$work/bus.address"
bus=$(head -n1 "$work/bus.address")
echo "bus: $bus"
ctl() { "$corralctl" --address "$bus" "$@"; }

step "corrald, with the demo instance (TCG guest: Debian kernel + busybox + negotiator-guest)"
show cat "$work/instances/demo.toml"
"$corrald" --bus-address "$bus" --instances-dir "$work/instances" --runtime-dir "$work/run" \
    2> >(sed "s/^/    /" >&2) &
pids+=($!)
wait_for "corrald on the bus" 15 busctl --address "$bus" status org.corral1
show ctl list

step "Start the VM (returns once QEMU runs and the QMP handshake is done)"
show ctl start demo
show ctl status demo

step "Run 'uname -a' inside the guest through the negotiator agent"
wait_for "the guest agent" 60 ctl exec demo -- true || { ctl exec demo -- true; exit 1; }
show ctl exec demo -- uname -a

step "Hot-add a 64 MiB disk and look at it from inside the guest"
qemu-img create -q -f raw "$work/data0.img" 64M
show ctl attach-disk demo data0 "$work/data0.img"
wait_for "the guest to see the disk" 30 ctl exec demo -- sh -c 'test -e /sys/block/vda'
show ctl exec demo -- sh -c 'for d in /sys/block/vd*; do echo "$d: $(cat $d/size) sectors"; done'

step "Detach it again (device_del, waits for DEVICE_DELETED)"
show ctl detach demo data0
show ctl exec demo -- sh -c 'ls /sys/block'

step "What D-Bus shows: the instance object, its properties"
path=$(busctl --address "$bus" call org.corral1 /org/corral1 org.corral1.Manager GetInstance s demo | cut -d' ' -f2 | tr -d '"')
show busctl --address "$bus" introspect org.corral1 "$path" org.corral1.Instance
show busctl --address "$bus" get-property org.corral1 "$path" org.corral1.Instance State Pid Devices

step "Graceful shutdown (ACPI powerdown; escalates to quit/SIGTERM/SIGKILL only after the timeout)"
show ctl shutdown demo --timeout 60
show ctl status demo
show busctl --address "$bus" get-property org.corral1 "$path" org.corral1.Instance State LastExit

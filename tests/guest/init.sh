#!/bin/sh
# /init of the corral guest test image. Mounts the basics, loads the virtio modules, starts
# negotiator-guest and qemu-ga, and then serves a root shell on the serial console for the tests.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
for m in $(cat /lib/modules/order); do
    insmod "/lib/modules/$m.ko" || echo "corral-guest: insmod $m failed"
done
# Hotplugged disks and NICs appear through the kernel's own device nodes (devtmpfs).
ip link set lo up
# A NIC present at boot gets QEMU user networking's guest address (or corral.ip=ADDR/PREFIX from
# the kernel command line), so that find-ip-addresses has something to report.
if [ -e /sys/class/net/eth0 ]; then
    address=10.0.2.15/24
    for word in $(cat /proc/cmdline); do
        case $word in corral.ip=*) address=${word#corral.ip=} ;; esac
    done
    ip addr add "$address" dev eth0 && ip link set eth0 up &&
        echo "corral-guest: eth0 $address"
fi
for p in /sys/class/virtio-ports/*; do
    [ -e "$p/name" ] && echo "corral-guest: virtio-port $(basename "$p") $(cat "$p/name")"
done
# ACPI power button (system_powerdown) -> clean poweroff, as a real distribution's acpid does.
# corral.acpi=ignore on the kernel command line makes a guest that ignores it (escalation tests).
acpi_watch=yes
grep -q 'corral.acpi=ignore' /proc/cmdline && acpi_watch=no
[ $acpi_watch = yes ] && for dev in /sys/class/input/input*; do
    if [ "$(cat "$dev/name" 2>/dev/null)" = "Power Button" ]; then
        for ev in "$dev"/event*; do
            [ -e "$ev" ] || continue
            echo "corral-guest: power button on /dev/input/$(basename "$ev")"
            (head -c 1 "/dev/input/$(basename "$ev")" >/dev/null && echo "corral-guest: power button" &&
                sync && poweroff -f) &
        done
    fi
done
# qemu-ga when the VM has its port ([agent] qemu_ga = true); its guest-shutdown runs
# /sbin/shutdown (a script of the image that says so on the console, then powers off).
hostname corral-guest
for p in /sys/class/virtio-ports/*; do
    [ "$(cat "$p/name" 2>/dev/null)" = org.qemu.guest_agent.0 ] || continue
    # No udev here: the /dev/virtio-ports/ link a distribution has is made by hand.
    mkdir -p /dev/virtio-ports
    ln -sf "/dev/$(basename "$p")" /dev/virtio-ports/org.qemu.guest_agent.0
    qemu-ga --daemonize --method=virtio-serial --path=/dev/virtio-ports/org.qemu.guest_agent.0 \
        --pidfile=/run/qemu-ga.pid --statedir=/run --logfile=/tmp/qemu-ga.log &&
        echo "corral-guest: qemu-ga started (pid $(cat /run/qemu-ga.pid))"
done
if [ -x /usr/sbin/negotiator-guest ]; then
    negotiator-guest --daemon >/tmp/negotiator-guest.log 2>&1 &
    echo "corral-guest: negotiator-guest started (pid $!)"
fi
# corral.counter on the kernel command line: a process that counts on the console once a second
# ("corral-guest: counter N pid P"), so that a save and restore shows the same process going on.
if grep -q 'corral.counter' /proc/cmdline; then
    sh -c 'i=0; while true; do i=$((i+1)); echo "corral-guest: counter $i pid $$"; sleep 1; done' \
        >/dev/console 2>&1 &
fi
echo "corral-guest: userspace ready"
# A shell on the console that the tests drive; respawned if it exits.
while true; do
    setsid cttyhack sh </dev/console >/dev/console 2>&1
done

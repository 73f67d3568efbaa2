#!/bin/sh
# /init of the corral guest test image. Mounts the basics, loads the virtio modules, starts
# negotiator-guest and then serves a root shell on the serial console for the tests.
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
for p in /sys/class/virtio-ports/*; do
    [ -e "$p/name" ] && echo "corral-guest: virtio-port $(basename "$p") $(cat "$p/name")"
done
if [ -x /usr/sbin/negotiator-guest ]; then
    negotiator-guest --daemon >/tmp/negotiator-guest.log 2>&1 &
    echo "corral-guest: negotiator-guest started (pid $!)"
fi
echo "corral-guest: userspace ready"
# A shell on the console that the tests drive; respawned if it exits.
while true; do
    setsid cttyhack sh </dev/console >/dev/console 2>&1
done

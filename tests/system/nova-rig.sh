#!/bin/bash
# The rig's rootfs for the Nova control plane: the main rig's cached rootfs (rig.sh) copied and
# Debian 12's OpenStack installed on top (mariadb, rabbitmq, keystone, glance, placement, nova
# api/conductor/scheduler, the openstack client). Its own cache key (the main key, this list and
# this provisioning code), so the main rig's cache is never rebuilt for it. Sourced by nova.sh;
# by hand: `nova-rig.sh rootfs` prints (and builds) it.
#
# Installed with every service start refused (policy-rc.d: without it, maintainer scripts run
# the init scripts in the unbooted tree) and every service disabled: nova.sh configures them,
# then starts them. nova-compute itself cannot be installed without a hypervisor package, so
# its .deb waits in /opt/nova-debs for the run's nova-compute-corral.
set -euo pipefail
nova_rig_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=rig.sh
. "$nova_rig_here/rig.sh"

NOVA_RIG_BASE_KEY=$(rig_key)
NOVA_RIG_BASE=$(rig_rootfs)
NOVA_RIG_PACKAGES="mariadb-server python3-pymysql rabbitmq-server keystone glance-api
placement-api nova-api nova-conductor nova-scheduler python3-openstackclient python3-jeepney
qemu-utils genisoimage conntrack cgroup-tools curl dosfstools ebtables fdisk gawk iptables kpartx
nova-common open-iscsi ovmf parted rsync vlan"
NOVA_RIG_SERVICES="mariadb rabbitmq-server keystone glance-api placement-api nova-api
nova-conductor nova-scheduler open-iscsi iscsid"

rig_key() {
    { echo "$NOVA_RIG_BASE_KEY $NOVA_RIG_PACKAGES $NOVA_RIG_SERVICES"; declare -f rig_provision; } |
        sha256sum | cut -c1-16 | sed 's/^/nova-/'
}

rig_provision() {
    local root=$1 in
    cp -a --reflink=auto "$NOVA_RIG_BASE" "$root"
    in=(systemd-nspawn -q -D "$root" --register=no --keep-unit --pipe)
    printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
    chmod 755 "$root/usr/sbin/policy-rc.d"
    "${in[@]}" apt-get update -q >"$root.apt.log" 2>&1 || {
        tail -n 20 "$root.apt.log" >&2
        return 1
    }
    "${in[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        $NOVA_RIG_PACKAGES >>"$root.apt.log" 2>&1 || {
        tail -n 20 "$root.apt.log" >&2
        return 1
    }
    mkdir -p "$root/opt/nova-debs"
    "${in[@]}" sh -c 'cd /opt/nova-debs && apt-get download -q nova-compute' >>"$root.apt.log" 2>&1 || {
        tail -n 20 "$root.apt.log" >&2
        return 1
    }
    "${in[@]}" apt-get clean
    rm -f "$root/usr/sbin/policy-rc.d"
    # shellcheck disable=SC2086
    systemctl --root="$root" disable $NOVA_RIG_SERVICES >/dev/null 2>&1 || true
    echo corral-nova >"$root/etc/hostname"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    case "${1:-}" in
    rootfs) rig_rootfs ;;
    *)
        sed -n '2,7p' "$0"
        exit 2
        ;;
    esac
fi

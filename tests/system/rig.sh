#!/bin/bash
# corral system-test rig: a real systemd (PID 1, real system bus) in a systemd-nspawn container,
# on hosts whose own PID 1 is not systemd. Sourced by run.sh; also usable by hand:
#
#   rig.sh rootfs            print the cached rootfs path (debootstraps it on first use)
#   rig.sh shell NAME        run a shell inside the booted container NAME
#
# The base rootfs is cached under $RIG_CACHE/<key>/rootfs, where <key> hashes the provisioning
# list and this file's provisioning code, so a change to either builds a new one. Each run boots
# an overlayfs (upper dir in $RIG_RUN) on top of it: the cache is never modified, and the upper
# dir survives a container reboot within the run (needed to test `systemctl enable`).
set -euo pipefail

RIG_CACHE=${RIG_CACHE:-/var/cache/corral-system-rig}
RIG_MIRROR=${RIG_MIRROR:-http://deb.debian.org/debian}
# What a corral host needs at runtime (systemd-container: machined, machinectl) plus the test's
# own tools (socat drives the serial console), and Cockpit for the page of cockpit-corral
# (cockpit-ws serves it, cockpit-bridge runs it; cockpit.sh drives it from the host's browser).
RIG_PACKAGES="systemd systemd-sysv dbus qemu-system-x86 libtomlplusplus3 socat systemd-container
cockpit-ws cockpit-bridge"

rig_log() { echo "[rig $(date +%T.%3N)] $*" >&2; }

rig_key() {
    { echo "$RIG_PACKAGES"; declare -f rig_provision; } | sha256sum | cut -c1-16
}

# Debootstrap + install into $1 (a fresh directory). Runs once per key.
rig_provision() {
    local root=$1
    debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus bookworm "$root" \
        "$RIG_MIRROR" >"$root.debootstrap.log" 2>&1 || {
        tail -n 20 "$root.debootstrap.log" >&2
        return 1
    }
    systemd-nspawn -q -D "$root" --register=no --keep-unit --pipe \
        env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        $RIG_PACKAGES >"$root.apt.log" 2>&1 || {
        tail -n 20 "$root.apt.log" >&2
        return 1
    }
    systemd-nspawn -q -D "$root" --register=no --keep-unit --pipe apt-get clean
    # No consoles to serve (the test enters with nsenter) and no network to wait for.
    systemctl --root="$root" mask console-getty.service getty@.service \
        systemd-networkd-wait-online.service >/dev/null 2>&1
    echo corral-rig >"$root/etc/hostname"
    : >"$root/etc/machine-id"
}

# Print the path of the cached rootfs, building it (under a lock) when missing.
rig_rootfs() {
    local dir
    dir="$RIG_CACHE/$(rig_key)"
    mkdir -p "$RIG_CACHE"
    (
        flock -w 900 9 || { rig_log "timed out waiting for the rootfs lock"; exit 1; }
        if [ ! -f "$dir/ready" ]; then
            rm -rf "$dir"
            mkdir -p "$dir"
            rig_log "provisioning rootfs $dir (debootstrap bookworm + $RIG_PACKAGES)"
            rig_provision "$dir/rootfs"
            touch "$dir/ready"
        fi
    ) 9>"$RIG_CACHE/.lock"
    echo "$dir/rootfs"
}

# rig_init NAME: prepare a run directory with an overlay root. Sets RIG_NAME and RIG_RUN.
rig_init() {
    RIG_NAME=$1
    RIG_RUN=$(mktemp -d "/tmp/corral-rig.$RIG_NAME.XXXXXX")
    RIG_CG=corral-rig-$RIG_NAME
    echo $$ >"$RIG_RUN/owner"
    echo "$RIG_CG" >"$RIG_RUN/cgroup"
    local lower
    lower=$(rig_rootfs)
    mkdir -p "$RIG_RUN/upper" "$RIG_RUN/work" "$RIG_RUN/root" "$RIG_RUN/share"
    mount -t overlay overlay \
        -o "lowerdir=$lower,upperdir=$RIG_RUN/upper,workdir=$RIG_RUN/work" "$RIG_RUN/root"
}

rig_leader() { cat "$RIG_RUN/leader"; }

# rig_boot [nspawn options...]: boot the container in the background; returns once the system
# finished booting (running or degraded).
rig_boot() {
    local t0 h nspid="" leader="" state="" i
    t0=$(date +%s%N)
    # Own cgroup subtree on both hierarchies, so the container's cgroups never land at the root
    # of the host's and can be removed afterwards.
    for h in unified systemd; do mkdir -p "/sys/fs/cgroup/$h/$RIG_CG"; done
    rm -f "$RIG_RUN/rc" "$RIG_RUN/nspawn.pid" "$RIG_RUN/leader"
    (
        echo $BASHPID >"/sys/fs/cgroup/unified/$RIG_CG/cgroup.procs"
        echo $BASHPID >"/sys/fs/cgroup/systemd/$RIG_CG/cgroup.procs"
        # --register=no --keep-unit: there is no host systemd/machined to register with.
        systemd-nspawn -D "$RIG_RUN/root" --boot --register=no --keep-unit \
            --console=read-only -M "$RIG_NAME" --bind-ro="$RIG_RUN/share":/opt/rig "$@" \
            </dev/null >>"$RIG_RUN/console.log" 2>&1 &
        echo $! >"$RIG_RUN/nspawn.pid"
        rc=0
        wait $! || rc=$?
        echo $rc >"$RIG_RUN/rc"
    ) </dev/null >>"$RIG_RUN/boot.err" 2>&1 &
    for i in $(seq 100); do
        [ -s "$RIG_RUN/nspawn.pid" ] && break
        sleep 0.02
    done
    nspid=$(cat "$RIG_RUN/nspawn.pid")
    # The container's PID 1 is the child of nspawn whose innermost pid is 1.
    for i in $(seq 400); do
        for leader in $(pgrep -P "$nspid" || true); do
            grep -qE '^NSpid:\s+[0-9]+\s+1$' "/proc/$leader/status" 2>/dev/null &&
                [ "$(cat "/proc/$leader/comm" 2>/dev/null)" = systemd ] && break 2
        done
        leader=""
        kill -0 "$nspid" 2>/dev/null || break
        sleep 0.05
    done
    [ -n "$leader" ] || {
        tail -n 30 "$RIG_RUN/console.log" >&2
        rig_log "container did not start"
        return 1
    }
    echo "$leader" >"$RIG_RUN/leader"
    for i in $(seq 600); do
        state=$(rig_exec systemctl is-system-running --wait 2>/dev/null) && break
        [ "$state" = degraded ] && break
        sleep 0.05
    done
    rig_log "container up: leader $leader, state=$state, $((($(date +%s%N) - t0) / 1000000)) ms"
    case "$state" in
    running) ;;
    degraded) rig_exec systemctl --failed --no-pager >&2 || true ;;
    *) return 1 ;;
    esac
}

# rig_wait_exit SECONDS: wait until the container's nspawn has exited on its own (the
# container's `systemctl reboot` or poweroff), bounded; prints nspawn's exit code (133: reboot).
# The overlay's upper dir stays: rig_boot boots the same root again.
rig_wait_exit() {
    local limit=$1 nspid i
    nspid=$(cat "$RIG_RUN/nspawn.pid")
    for i in $(seq $((limit * 20))); do
        kill -0 "$nspid" 2>/dev/null || break
        sleep 0.05
    done
    kill -0 "$nspid" 2>/dev/null && return 1
    for i in $(seq 200); do
        [ -s "$RIG_RUN/rc" ] && break
        sleep 0.02
    done
    rm -f "$RIG_RUN/nspawn.pid" "$RIG_RUN/leader"
    rm -rf "/run/systemd/nspawn/propagate/$RIG_NAME"
    cat "$RIG_RUN/rc"
}

# Run a command inside all of the container's namespaces with a clean environment.
rig_exec() {
    nsenter -t "$(rig_leader)" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        TERM=dumb SYSTEMD_PAGER=cat SYSTEMD_COLORS=0 LANG=C.UTF-8 "$@"
}

# Power the container off (SIGRTMIN+4 to its PID 1), bounded; SIGKILL nspawn if it hangs.
rig_poweroff() {
    local nspid i
    nspid=$(cat "$RIG_RUN/nspawn.pid" 2>/dev/null) || return 0
    if kill -0 "$nspid" 2>/dev/null; then
        kill -s SIGRTMIN+4 "$(rig_leader)" 2>/dev/null || kill -TERM "$nspid" 2>/dev/null || true
        for i in $(seq 1200); do
            kill -0 "$nspid" 2>/dev/null || break
            sleep 0.05
        done
        if kill -0 "$nspid" 2>/dev/null; then
            rig_log "container did not power off in 60 s: SIGKILL nspawn $nspid"
            kill -KILL "$nspid" 2>/dev/null || true
        fi
    fi
    for i in $(seq 200); do
        [ -s "$RIG_RUN/rc" ] && break
        sleep 0.02
    done
    rm -f "$RIG_RUN/nspawn.pid" "$RIG_RUN/leader"
    rm -rf "/run/systemd/nspawn/propagate/$RIG_NAME"
}

# Kill whatever is left in the container's cgroups (by pid) and remove them, deepest first.
rig_reap_cgroups() {
    local h pid
    for h in unified systemd; do
        [ -d "/sys/fs/cgroup/$h/$RIG_CG" ] || continue
        for pid in $(find "/sys/fs/cgroup/$h/$RIG_CG" -name cgroup.procs -exec cat {} + 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null || true
        done
    done
    for h in unified systemd; do
        [ -d "/sys/fs/cgroup/$h/$RIG_CG" ] || continue
        for _ in $(seq 50); do
            find "/sys/fs/cgroup/$h/$RIG_CG" -depth -type d -exec rmdir {} + 2>/dev/null || true
            [ -d "/sys/fs/cgroup/$h/$RIG_CG" ] || break
            sleep 0.1
        done
    done
    for h in unified systemd; do
        [ ! -d "/sys/fs/cgroup/$h/$RIG_CG" ] || rig_log "cgroup $h/$RIG_CG could not be removed"
    done
}

# Clean up after runs whose owner died without its trap (SIGKILL, e.g. a ctest timeout).
rig_reap_stale() {
    local dir owner
    for dir in /tmp/corral-rig.*; do
        [ -d "$dir" ] || continue
        owner=$(cat "$dir/owner" 2>/dev/null || echo 0)
        [ "$owner" != 0 ] && kill -0 "$owner" 2>/dev/null && continue
        rig_log "cleaning up stale run $dir"
        (
            RIG_RUN=$dir
            RIG_NAME=${dir#/tmp/corral-rig.}
            RIG_NAME=${RIG_NAME%.*}
            RIG_CG=$(cat "$dir/cgroup" 2>/dev/null || echo "corral-rig-$RIG_NAME")
            rig_cleanup
        )
    done
}

# Tear everything down: container, cgroups, overlay, run dir. Safe to call more than once.
rig_cleanup() {
    [ -n "${RIG_RUN:-}" ] && [ -d "$RIG_RUN" ] || return 0
    rig_poweroff
    rig_reap_cgroups
    if mountpoint -q "$RIG_RUN/root"; then
        umount "$RIG_RUN/root" || umount -l "$RIG_RUN/root"
    fi
    rm -rf "$RIG_RUN"
    RIG_RUN=""
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    case "${1:-}" in
    rootfs) rig_rootfs ;;
    shell)
        RIG_RUN=$(ls -d /tmp/corral-rig."$2".* | head -n1)
        rig_exec bash
        ;;
    *)
        sed -n '2,6p' "$0"
        exit 2
        ;;
    esac
fi

#!/bin/sh
# Build the guest test image: Debian's kernel and a busybox initramfs with the virtio modules
# (console, block, net, rng, scsi, balloon), SCSI disks and CD-ROMs, SATA and IDE, e1000e, ext4,
# Debian's qemu-guest-agent (qemu-ga and the host's copies of its libraries) and (when given) our
# static negotiator-guest and its built-in commands.
#
#   build-image.sh OUTDIR [NEGOTIATOR_GUEST_BINARY [BUILTIN_COMMANDS_DIR]]
#
# Writes OUTDIR/vmlinuz and OUTDIR/initrd.img. The result is cached by content: it is rebuilt only
# when this script, the init script, the kernel or qemu-guest-agent package, busybox, the agent
# binary or its built-in commands change.
set -eu

out=$1
agent=${2:-}
builtins=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
cache="$out/cache"
mkdir -p "$cache"

kpkg=$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n1)
[ -n "$kpkg" ] || { echo "build-image: cannot resolve linux-image-amd64 to a kernel package" >&2; exit 1; }
kver=${kpkg#linux-image-}
qga_version=$(apt-cache policy qemu-guest-agent | sed -n 's/^ *Candidate: //p')
[ -n "$qga_version" ] && [ "$qga_version" != "(none)" ] || {
    echo "build-image: apt knows no qemu-guest-agent package (apt-get update)" >&2; exit 1; }
busybox=/bin/busybox
[ -x "$busybox" ] && "$busybox" --help 2>&1 | head -n1 | grep -q BusyBox || {
    echo "build-image: busybox-static is not installed (make deps)" >&2; exit 1; }

agent_sum=none
[ -n "$agent" ] && agent_sum=$(sha256sum "$agent" | cut -d' ' -f1)
builtins_sum=none
[ -n "$builtins" ] && builtins_sum=$(cat "$builtins"/* | sha256sum | cut -d' ' -f1)
key=$( (cat "$0" "$here/init.sh"; echo "$kpkg"; sha256sum "$busybox"; echo "$agent_sum $builtins_sum qemu-guest-agent=$qga_version") |
    sha256sum | cut -c1-16)

if [ -f "$out/image.key" ] && [ "$(cat "$out/image.key")" = "$key" ] &&
   [ -f "$out/vmlinuz" ] && [ -f "$out/initrd.img" ]; then
    exit 0
fi

# The .deb of package $1 (version $2 when given) in the cache, downloaded through apt if missing.
cached_deb() {
    f=$(ls "$cache"/"$1"_*.deb 2>/dev/null | head -n1 || true)
    [ -n "$f" ] && [ -n "${2:-}" ] && [ "$(dpkg-deb -f "$f" Version)" != "$2" ] && rm -f "$f" && f=""
    if [ -z "$f" ]; then
        echo "build-image: downloading $1" >&2
        (cd "$cache" && apt-get download -q "$1${2:+=$2}" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
        f=$(ls "$cache"/"$1"_*.deb 2>/dev/null | head -n1 || true)
        [ -n "$f" ] || { echo "build-image: download of $1 failed" >&2; exit 1; }
    fi
    echo "$f"
}
deb=$(cached_deb "$kpkg")
qga_deb=$(cached_deb qemu-guest-agent "$qga_version")

work=$(mktemp -d "$out/work.XXXXXX")
trap 'rm -rf "$work"' EXIT
dpkg -x "$deb" "$work/kernel"
cp "$work/kernel/boot/vmlinuz-$kver" "$work/vmlinuz"

root="$work/root"
mkdir -p "$root/bin" "$root/sbin" "$root/dev" "$root/proc" "$root/sys" "$root/tmp" "$root/run" \
         "$root/lib/modules" "$root/usr/bin" "$root/usr/sbin" "$root/usr/lib/negotiator/commands" \
         "$root/etc"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done

# fat, vfat and the two code pages: a test can mount a disk and see it in find-disk-usage.
# SCSI disks and CD-ROMs (virtio-scsi, SATA/AHCI, IDE through libata), ISO 9660 and the e1000e
# NIC: tests of disk buses, [[cdrom]] and NIC models. ext4 (and what it needs): a file system
# qemu-ga can freeze (FIFREEZE; vfat has no freeze). virtio_balloon: [machine] balloon. The CRC modules come first: sd_mod needs
# them and the image has no modprobe to load them on demand. TPM drivers and EFI are built into
# Debian's kernel.
modules="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_console
virtio_blk failover net_failover virtio_net virtio-rng button evdev fat vfat nls_cp437 nls_ascii
crct10dif_common crct10dif_generic crc-t10dif crc64 crc64_rocksoft_generic crc64-rocksoft t10-pi
scsi_common scsi_mod sd_mod cdrom sr_mod isofs libata libahci ahci ata_piix ata_generic virtio_scsi
e1000e crc16 mbcache jbd2 crc32c_generic libcrc32c ext4 virtio_balloon"
mdir="$work/kernel/lib/modules/$kver"
for m in $modules; do
    f=$(find "$mdir" -name "$m.ko*" | head -n1)
    [ -n "$f" ] || { echo "build-image: module $m not found in $kpkg" >&2; exit 1; }
    case "$f" in
        *.xz) xz -dc "$f" > "$root/lib/modules/$m.ko" ;;
        *.zst) zstd -qdc "$f" > "$root/lib/modules/$m.ko" ;;
        *) cp "$f" "$root/lib/modules/$m.ko" ;;
    esac
done
echo "$modules" | tr '\n' ' ' > "$root/lib/modules/order"

cp "$here/init.sh" "$root/init"
chmod 0755 "$root/init"
if [ -n "$agent" ]; then
    cp "$agent" "$root/usr/sbin/negotiator-guest"
    chmod 0755 "$root/usr/sbin/negotiator-guest"
    # A dynamically linked agent (the sanitizer build) brings its libraries and loader along.
    for lib in $(ldd "$agent" 2>/dev/null | grep -o '/[^ ]*' || true); do
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
fi
# qemu-ga from Debian's package, its libraries copied from the host (the same Debian release),
# started by init.sh when the org.qemu.guest_agent.0 port exists.
dpkg-deb -x "$qga_deb" "$work/qga"
cp "$work/qga/usr/sbin/qemu-ga" "$root/usr/sbin/qemu-ga"
for lib in $(ldd "$root/usr/sbin/qemu-ga" | grep -o '/[^ ]*'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done
cat > "$root/sbin/shutdown" <<'SHUTDOWN'
#!/bin/sh
echo "corral-guest: shutdown $*" >/dev/console
# The serial line drains slowly under TCG: what is still queued would be lost at the power-off.
sleep 1
sync
poweroff -f
SHUTDOWN
chmod 0755 "$root/sbin/shutdown"
if [ -n "$builtins" ]; then
    # As agent/CMakeLists.txt installs them: find-distribution answers under three names.
    bdir="$root/usr/lib/negotiator/builtin-commands"
    mkdir -p "$bdir"
    for name in find-distributor-id find-distribution-release find-distribution-codename; do
        cp "$builtins/find-distribution" "$bdir/$name"
    done
    cp "$builtins/find-disk-usage" "$builtins/find-ip-addresses" "$bdir/"
    chmod 0755 "$bdir"/*
fi
echo "root:x:0:0:root:/:/bin/sh" > "$root/etc/passwd"
# What find-distributor-id and friends (and GuestInfo) report for this image.
cat > "$root/etc/os-release" <<'OSRELEASE'
PRETTY_NAME="Corral test guest 1 (busybox)"
NAME="Corral test guest"
ID=corral
VERSION_ID=1
VERSION_CODENAME=busybox
OSRELEASE
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initrd.img"
mv "$work/vmlinuz" "$out/vmlinuz"
mv "$work/initrd.img" "$out/initrd.img"
echo "$key" > "$out/image.key"
echo "build-image: $kpkg + busybox + qemu-ga $qga_version$( [ -n "$agent" ] && echo " + negotiator-guest")$( [ -n "$builtins" ] && echo " + built-in commands") -> $out"

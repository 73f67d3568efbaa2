#!/bin/sh
# Install every build and test dependency of corral with apt.
# Idempotent and quiet: packages already installed are skipped, `apt-get update` runs at most once.
set -eu

# libssl-dev, openssl: the VNC test client (DES) and test TLS certificates; swtpm: [tpm].
PACKAGES="
build-essential cmake ninja-build pkg-config git ccache
g++ clang clang-format clang-tidy libclang-rt-14-dev
libboost1.81-dev libtomlplusplus-dev rapidjson-dev libsystemd-dev
libgtest-dev libgmock-dev googletest
qemu-system-x86 qemu-utils busybox-static cpio kmod
dbus dbus-daemon dbus-bin iproute2 bridge-utils socat
systemd-container debootstrap openssh-server openssh-client
dpkg-dev debhelper lintian fakeroot rpm
groff-base man-db
gnuplot-nox
prometheus curl
libssl-dev openssl
swtpm
"
# UEFI guests (OVMF) and the ISOs of the boot tests: GRUB for BIOS and EFI, Debian's signed chain.
PACKAGES="$PACKAGES ovmf grub-pc-bin grub-efi-amd64-bin xorriso mtools shim-signed grub-efi-amd64-signed"
PACKAGES="$PACKAGES lvm2"  # disk tests: LVM logical volumes on loop devices as block-device disks
PACKAGES="$PACKAGES dosfstools"  # storage-copy migration test: a FAT file system, fsck.vfat
# The Nova compute driver (nova/): Debian's Nova library, the D-Bus library it talks through and
# the ISO tool of its config drives (no Nova service is installed or started).
PACKAGES="$PACKAGES python3-nova python3-jeepney genisoimage"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "deps: all $(echo $PACKAGES | wc -w) packages present"
    exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "deps: installing$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: done"

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
# The Cockpit page (cockpit/): its test runs cockpit-ws and cockpit-bridge and drives Debian's
# Chromium headless; node and npm bundle it (below).
PACKAGES="$PACKAGES cockpit-ws cockpit-bridge chromium"
# node and npm from Debian (nodejs 18 and npm 9 on Debian 12) when the host has no npm yet; a
# host whose Node.js already brings its own npm (as NodeSource's package does) keeps it, since
# Debian's npm package would conflict with it.
command -v npm >/dev/null 2>&1 || PACKAGES="$PACKAGES nodejs npm"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "deps: all $(echo $PACKAGES | wc -w) packages present"
else
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "deps: installing$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
    echo "deps: done"
fi

# The page's front-end libraries, exactly as cockpit/package-lock.json pins them. Once they are
# in cockpit/node_modules, bundling the page (cockpit/build.mjs) needs no network.
cockpit=$(dirname "$0")/../cockpit
if [ ! -f "$cockpit/node_modules/.package-lock.json" ] ||
   ! cmp -s "$cockpit/package-lock.json" "$cockpit/node_modules/.corral-lock"; then
    echo "deps: npm ci in cockpit/"
    (cd "$cockpit" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    cp "$cockpit/package-lock.json" "$cockpit/node_modules/.corral-lock"
fi

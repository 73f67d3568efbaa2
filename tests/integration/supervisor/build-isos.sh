#!/bin/sh
# Build the ISO images of the boot tests from the guest image (tests/guest/build-image.sh):
#   boot.iso    grub-mkrescue, BIOS (El Torito, i386-pc) and EFI (x86_64-efi, unsigned GRUB):
#               GRUB boots the guest kernel and initrd with the console on ttyS0
#   marker.iso  a plain ISO 9660 volume with the file corral-marker.txt ("corral-marker-2")
#   signed.iso  EFI only, Debian's signed chain: shimx64.efi.signed as BOOTX64.EFI,
#               grubx64.efi.signed, and the guest image's kernel (Debian's, signed)
#
#   build-isos.sh OUTDIR VMLINUZ INITRD
#
# Cached by content: rebuilt only when this script, the kernel, the initrd or the GRUB and shim
# packages change. Needs grub-pc-bin, grub-efi-amd64-bin, xorriso, mtools, shim-signed and
# grub-efi-amd64-signed (packaging/deps.sh).
set -eu

out=$1
kernel=$2
initrd=$3
mkdir -p "$out"
out=$(cd "$out" && pwd)

versions=$(dpkg-query -W -f='${Package} ${Version}\n' grub-pc-bin grub-efi-amd64-bin xorriso \
    mtools shim-signed grub-efi-amd64-signed)
key=$( (cat "$0"; sha256sum "$kernel" "$initrd" | cut -d' ' -f1; echo "$versions") |
    sha256sum | cut -c1-16)
if [ -f "$out/isos.key" ] && [ "$(cat "$out/isos.key")" = "$key" ] &&
   [ -f "$out/boot.iso" ] && [ -f "$out/marker.iso" ] && [ -f "$out/signed.iso" ]; then
    exit 0
fi
rm -f "$out/isos.key"

work=$(mktemp -d "$out/work.XXXXXX")
trap 'rm -rf "$work"' EXIT

entry() {
    cat <<CFG
set timeout=0
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
menuentry "corral guest" {
    echo "corral-iso: loading the guest kernel"
    linux $1/vmlinuz console=ttyS0 panic=-1 no_timer_check
    initrd $1/initrd.img
}
CFG
}

# boot.iso: BIOS and EFI through grub-mkrescue.
mkdir -p "$work/boot/boot/grub"
cp "$kernel" "$work/boot/boot/vmlinuz"
cp "$initrd" "$work/boot/boot/initrd.img"
entry /boot > "$work/boot/boot/grub/grub.cfg"
grub-mkrescue -o "$work/boot.iso" "$work/boot" >"$work/mkrescue.log" 2>&1 ||
    { cat "$work/mkrescue.log" >&2; exit 1; }

# marker.iso: a data CD.
mkdir -p "$work/marker"
echo corral-marker-2 > "$work/marker/corral-marker.txt"
xorriso -as mkisofs -quiet -V CORRAL_MARKER -o "$work/marker.iso" "$work/marker"

# signed.iso: an EFI system partition image (FAT) with shim and Debian's signed GRUB as the El
# Torito EFI boot image; that GRUB finds the CD's own file system by its /.disk/info and reads
# /boot/grub/grub.cfg there, which boots the kernel and initrd from the CD.
esp="$work/esp.img"
dd if=/dev/zero of="$esp" bs=1024 count=8192 status=none
mformat -i "$esp" ::
mmd -i "$esp" ::/EFI ::/EFI/BOOT
mcopy -i "$esp" /usr/lib/shim/shimx64.efi.signed ::/EFI/BOOT/BOOTX64.EFI
mcopy -i "$esp" /usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed ::/EFI/BOOT/grubx64.efi
mkdir -p "$work/signed/boot/grub" "$work/signed/.disk"
cp "$esp" "$work/signed/efi.img"
echo "corral signed boot test" > "$work/signed/.disk/info"
cp "$kernel" "$work/signed/vmlinuz"
cp "$initrd" "$work/signed/initrd.img"
entry "" > "$work/signed/boot/grub/grub.cfg"
xorriso -as mkisofs -quiet -V CORRAL_SIGNED -e efi.img -no-emul-boot -o "$work/signed.iso" \
    "$work/signed"

mv "$work/boot.iso" "$work/marker.iso" "$work/signed.iso" "$out/"
echo "$key" > "$out/isos.key"

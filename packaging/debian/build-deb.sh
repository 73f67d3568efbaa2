#!/bin/sh
# Build corral's binary .debs with dpkg-buildpackage (unsigned) from a source tree.
#
#   build-deb.sh SRCDIR OUTDIR
#
# Stages the tree's files (git's list: tracked and untracked-not-ignored) into
# OUTDIR/stage/corral-VERSION with packaging/debian as debian/, keeps dh's build directory
# between runs so that a rebuild only compiles what changed, and moves the results
# (.deb, .buildinfo, .changes) to OUTDIR. Prints the paths of the .debs.
set -eu
src=$(cd "$1" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)
version=$(dpkg-parsechangelog -l "$src/packaging/debian/changelog" -S Version)
stage=$out/stage/corral-$version
mkdir -p "$stage"
# CMake caches the compiler flags of its first configure: start afresh when packaging changes.
key=$(cat "$src"/packaging/debian/* 2>/dev/null | sha256sum | cut -c1-16)
[ "$(cat "$out/stage/debian.key" 2>/dev/null)" = "$key" ] || rm -rf "$stage"/obj-*
find "$stage" -mindepth 1 -maxdepth 1 ! -name 'obj-*' -exec rm -rf {} +
echo "$key" >"$out/stage/debian.key"
# Files deleted from the work tree but still in the index are skipped (--ignore-failed-read).
(cd "$src" && git ls-files -z --cached --others --exclude-standard |
    tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -xf - -C "$stage"
cp -a "$stage/packaging/debian" "$stage/debian"
rm -f "$stage/debian/build-deb.sh"
rm -f "$out"/stage/*.deb "$out"/stage/*.buildinfo "$out"/stage/*.changes
(cd "$stage" &&
    DEB_BUILD_OPTIONS="parallel=${JOBS:-2}" dpkg-buildpackage -b -nc -us -uc >"$out/build.log" 2>&1) || {
    tail -n 40 "$out/build.log" >&2
    echo "build-deb: dpkg-buildpackage failed, full log: $out/build.log" >&2
    exit 1
}
rm -f "$out"/*.deb "$out"/*.buildinfo "$out"/*.changes
mv "$out"/stage/*.deb "$out"/stage/*.buildinfo "$out"/stage/*.changes "$out"/
ls "$out"/*.deb

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
echo "$key" >"$out/stage/debian.key"
# Copy only files whose content changed, so that they get a new mtime and everything else
# keeps its old one: ninja then rebuilds exactly what changed (a copy that preserved the
# source mtimes could look older than objects built from a previous version).
new=$out/stage/new
rm -rf "$new" "$stage/debian"
mkdir -p "$new"
# Files deleted from the work tree but still in the index are skipped (--ignore-failed-read).
(cd "$src" && git ls-files -z --cached --others --exclude-standard |
    tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -xf - -C "$new"
(cd "$stage" && find . -path ./obj-\* -prune -o -type f -print) | while read -r f; do
    [ -e "$new/$f" ] || rm -f "$stage/$f"
done
(cd "$new" && find . -type f) | while read -r f; do
    cmp -s "$new/$f" "$stage/$f" || { mkdir -p "$(dirname "$stage/$f")" && cp "$new/$f" "$stage/$f"; }
done
rm -rf "$new"
# The Cockpit page (package cockpit-corral) is bundled here, from the source tree's node_modules
# (make deps: npm ci), as a release tarball would carry it: the package build needs no node.
[ -d "$src/cockpit/node_modules/esbuild" ] ||
    { echo "build-deb: $src/cockpit/node_modules is missing (make deps runs npm ci)" >&2; exit 1; }
node "$src/cockpit/build.mjs" "$stage/cockpit/dist" >/dev/null
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
# The documents of docs/ are part of the package (dh_compress may gzip them).
for f in architecture dbus-api reliability performance; do
    dpkg-deb -c "$out"/corral_*.deb | grep "/usr/share/doc/corral/$f\.md" >/dev/null ||
        { echo "build-deb: docs/$f.md is not in the corral package" >&2; exit 1; }
done
ls "$out"/*.deb

#!/bin/sh
# Build corral's binary RPMs with rpmbuild from a source tree, also on a non-RPM host.
#
#   build-rpm.sh SRCDIR OUTDIR
#
# Makes corral-VERSION.tar.gz from git's file list (tracked and untracked-not-ignored), runs
# rpmbuild -bb with its _topdir in OUTDIR/rpmbuild and leaves the RPMs in OUTDIR. Build
# dependencies are checked only where an RPM database knows them (not on Debian: --nodeps);
# systemd macros missing on the host come from macros.foreign-host. Prints the RPM paths.
set -eu
src=$(cd "$1" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)
here=$src/packaging/rpm
version=$(sed -n 's/^Version: *//p' "$here/corral.spec")
top=$out/rpmbuild
rm -rf "$top"
mkdir -p "$top/SOURCES" "$top/SPECS" "$top/dist"
# The tarball carries the bundled Cockpit page (cockpit/dist, from the source tree's node_modules
# of npm ci), as a release tarball would: the package build needs no node.
[ -d "$src/cockpit/node_modules/esbuild" ] ||
    { echo "build-rpm: $src/cockpit/node_modules is missing (make deps runs npm ci)" >&2; exit 1; }
node "$src/cockpit/build.mjs" "$top/dist/cockpit/dist" >/dev/null
(cd "$src" && git ls-files -z --cached --others --exclude-standard |
    tar --null --ignore-failed-read -T - --transform "s,^,corral-$version/," \
        -cf "$top/SOURCES/corral-$version.tar" 2>/dev/null)
tar -rf "$top/SOURCES/corral-$version.tar" -C "$top/dist" --transform "s,^,corral-$version/," cockpit/dist
gzip -n "$top/SOURCES/corral-$version.tar"
cp "$here/corral.spec" "$top/SPECS/"
macros=""
rpm --eval '%{?_unitdir}' | grep -q . || macros=$here/macros.foreign-host
nodeps=""
rpm -q rpm >/dev/null 2>&1 || nodeps=--nodeps
rpmbuild -bb $nodeps --define "_topdir $top" --define "_smp_mflags -j${JOBS:-2}" \
    ${macros:+--load "$macros"} "$top/SPECS/corral.spec" >"$out/rpmbuild.log" 2>&1 || {
    tail -n 40 "$out/rpmbuild.log" >&2
    echo "build-rpm: rpmbuild failed, full log: $out/rpmbuild.log" >&2
    exit 1
}
rm -f "$out"/*.rpm
mv "$top"/RPMS/*/*.rpm "$out"/
ls "$out"/*.rpm

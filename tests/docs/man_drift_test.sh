#!/bin/sh
# check_man_pages.sh must catch drift: on a copy of the pages with an option renamed in
# corrald.8, the detach entry gone from corralctl.1 and an undefined macro in corral-qmp.1,
# it must fail and name each of the three problems.
#
#   man_drift_test.sh MANDIR PROGRAM=PATH...
set -u
mandir=$1
shift
checker=$(dirname "$0")/check_man_pages.sh
copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
cp "$mandir"/*.[18] "$copy"/

sed -i 's/\\-\\-instances\\-dir/\\-\\-instance\\-dir/g' "$copy/corrald.8"
sed -i 's/^\.BI detach /.BI unplug /' "$copy/corralctl.1"
echo '.XX undefined' >>"$copy/corral-qmp.1"

output=$(sh "$checker" "$copy" "$@")
status=$?
echo "$output"
failed=0
[ "$status" -eq 1 ] || { echo "expected status 1 on drifted pages, got $status"; failed=1; }
for expected in "corrald: option --instances-dir" "corralctl: command 'detach'" \
                "groff warns about $copy/corral-qmp.1"; do
    printf '%s\n' "$output" | grep -qF -- "$expected" ||
        { echo "the checker did not report: $expected"; failed=1; }
done
exit "$failed"

#!/bin/sh
# The default accel the loader uses (instance_spec.hpp) is the one every document names.
set -eu
src=$1
default=$(sed -n 's/.*Accel accel = Accel::\([A-Za-z]*\);.*/\1/p' "$src/hypervisor/instance_spec.hpp")
spelling=$(sed -n "s/.*{Accel::$default, \"\([^\"]*\)\"}.*/\1/p" "$src/hypervisor/instance_spec.hpp")
[ -n "$spelling" ] || { echo "cannot find the loader's default accel" >&2; exit 1; }
fail=0
check() {  # FILE PATTERN (grep -E)
    grep -Eq "$2" "$src/$1" || { echo "$1 does not name the default accel \"$spelling\"" >&2; fail=1; }
}
check etc/instances/example.toml "Default \"$spelling\""
check README.md "default \`accel = \"$spelling\"\`"
check docs/architecture.md "\"$spelling\" \(first that works; the default\)"
grep -A1 '^default$' "$src/docs/man/corrald.8" | grep -q "^.BR $spelling" ||
    { echo "docs/man/corrald.8 does not name the default accel \"$spelling\"" >&2; fail=1; }
exit $fail

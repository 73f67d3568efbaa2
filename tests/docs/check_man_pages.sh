#!/bin/sh
# Fails when a manual page drifts from its program: every long option that `PROGRAM --help`
# prints must be listed in the page's OPTIONS section, every command word of corralctl's usage
# must be an entry of corralctl.1's COMMANDS section, and groff and man must format each page
# without a warning (what lintian checks).
#
#   check_man_pages.sh MANDIR PROGRAM=PATH...
#
# PROGRAM names both the binary and its page (MANDIR/PROGRAM.1 or .8).
set -u

if [ $# -lt 2 ]; then
    echo "usage: check_man_pages.sh MANDIR PROGRAM=PATH..." >&2
    exit 2
fi
mandir=$1
shift
failures=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

for tool in groff man; do
    if ! command -v "$tool" >/dev/null; then
        echo "FAIL: $tool is not installed (packaging/deps.sh installs groff-base and man-db)"
        exit 1
    fi
done

# Plain text with one line per paragraph: no line breaks or hyphenation can split an option.
render() {
    groff -man -Tascii -P-c -P-b -P-o -P-u -rLL=2000n -rHY=0 "$1" 2>/dev/null
}

# The rendered text of one section (headings are unindented upper-case lines).
section() {
    awk -v name="$2" '/^[A-Z][A-Z ]*$/ { inside = ($0 == name); next } inside' "$1"
}

# The usage text: corral-validate has no --help and prints its usage when given no file;
# corralctl prints its usage on stderr with status 2.
usage() {
    case $1 in
        corral-validate) "$2" 2>&1 ;;
        *) "$2" --help 2>&1 ;;
    esac
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for pair in "$@"; do
    program=${pair%%=*}
    binary=${pair#*=}
    page=""
    for candidate in "$mandir/$program.1" "$mandir/$program.8"; do
        [ -f "$candidate" ] && page=$candidate
    done
    if [ -z "$page" ]; then
        fail "$program: no manual page $mandir/$program.1 or .8"
        continue
    fi
    if [ ! -x "$binary" ]; then
        fail "$program: $binary is not an executable (build the target first)"
        continue
    fi
    help=$(usage "$program" "$binary")
    if ! printf '%s\n' "$help" | grep -qi 'usage'; then
        fail "$program: no usage text from $binary: $help"
        continue
    fi
    render "$page" >"$work/$program.txt"
    section "$work/$program.txt" OPTIONS >"$work/$program.options"
    for option in $(printf '%s\n' "$help" | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u); do
        grep -qE -- "(^|[^A-Za-z0-9-])$option([^A-Za-z0-9-]|$)" "$work/$program.options" ||
            fail "$program: option $option of --help is not in the OPTIONS section of $page"
    done
    if [ "$program" = corralctl ]; then
        section "$work/$program.txt" COMMANDS >"$work/commands"
        words=$(printf '%s\n' "$help" | sed -n 's/^  \([a-z][a-z|-]*\).*/\1/p' | tr '|' ' ')
        [ -n "$words" ] || fail "corralctl: no command words found in its usage text"
        for word in $words; do
            grep -qE "^       $word( |$)" "$work/commands" ||
                fail "corralctl: command '$word' of its usage is not an entry of COMMANDS in $page"
        done
    fi
done

for page in "$mandir"/*.[18]; do
    warnings=$(groff -man -ww -z "$page" 2>&1)
    [ -z "$warnings" ] || fail "groff warns about $page: $warnings"
    # As lintian runs it.
    warnings=$(LC_ALL=C.UTF-8 MANROFFSEQ="" MANWIDTH=80 \
        man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null)
    [ -z "$warnings" ] || fail "man warns about $page: $warnings"
done

if [ "$failures" -gt 0 ]; then
    echo "$failures problem(s) in $mandir"
    exit 1
fi
echo "man pages in $mandir match the programs' --help ($# programs)"

#!/bin/sh
# Builds the libFuzzer harnesses with clang 14 (ASan + UBSan) in build-fuzz/ and runs each one
# for a bounded time, starting from its checked-in corpus. New corpus entries stay in
# build-fuzz/corpus/; crashes are written to build-fuzz/artifacts/<name>/ and fail the run.
# Usage: run-fuzzers.sh SECONDS_EACH [NAME...]; FUZZ_SEED=N makes a run repeatable (CI uses 1, so a
# CI failure reproduces; `make fuzz` explores with a new seed each time).
set -eu

seconds=${1:?usage: run-fuzzers.sh SECONDS_EACH [NAME...]}
shift
root=$(cd "$(dirname "$0")/../.." && pwd)
build="$root/build-fuzz"

cmake -S "$root/tests/fuzz/libfuzzer" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_CXX_COMPILER=clang++-14 >/dev/null
# Keep going past a file that does not compile yet: the other fuzzers still run.
cmake --build "$build" -j 2 -- -k 0 || echo "fuzz: some harnesses did not build"

names=${*:-$(cat "$build/fuzzers.txt")}
summary="$build/summary.txt"
: >"$summary"
failed=0
for name in $names; do
    if [ ! -x "$build/fuzz_$name" ]; then
        echo "fuzz: $name not built" | tee -a "$summary"
        failed=1
        continue
    fi
    work="$build/corpus/$name"
    artifacts="$build/artifacts/$name"
    log="$build/logs/$name.log"
    mkdir -p "$work" "$artifacts" "$(dirname "$log")"
    dict="$root/tests/fuzz/dict/$name.dict"
    set -- -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        ${FUZZ_SEED:+-seed="$FUZZ_SEED"} \
        -artifact_prefix="$artifacts/"
    [ -f "$dict" ] && set -- "$@" -dict="$dict"
    echo "fuzz: $name for ${seconds}s"
    if "$build/fuzz_$name" "$@" "$work" "$root/tests/fuzz/corpus/$name" >"$log" 2>&1; then
        result=ok
    else
        result="CRASH (see $log and $artifacts)"
        failed=1
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    corpus=$(find "$work" -type f | wc -l)
    line="$name: ${execs:-?} executions, ${rate:-?} exec/s, corpus $corpus files, $result"
    echo "fuzz: $line"
    echo "$line" >>"$summary"
done
echo "fuzz: summary in $summary"
exit $failed

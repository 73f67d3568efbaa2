#!/bin/bash
# corral benchmarks: every bench in one run, one table, BUILD_DIR/bench/results.json and the plot.
#
#   run.sh BUILD_DIR [--quick]
#
# --quick (CI) proves the benches work with small N; figures are printed, never judged. The full
# run writes the plot to docs/bench-scale.svg (referenced from docs/performance.md); the quick one
# to BUILD_DIR/bench/scale.svg. A bench that is not built is reported as skipped.
set -euo pipefail

build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
quick=()
[ "${2:-}" = "--quick" ] && quick=(--quick)
out="$build/bench"
mkdir -p "$out"
plot="$src/docs/bench-scale.svg"
[ ${#quick[@]} -eq 0 ] || plot="$out/scale.svg"
load=$(cut -d' ' -f1-3 /proc/loadavg)
failed=0

# run NAME BINARY ARGS...: output to the terminal and to $out/NAME.txt.
run() {
    local name=$1 binary=$2; shift 2
    if [ ! -x "$binary" ]; then
        echo "== $name: skipped ($binary is not built)" | tee "$out/$name.txt"
        return
    fi
    echo "== $name"
    "$binary" "$@" 2>&1 | tee "$out/$name.txt" || { echo "== $name FAILED"; failed=1; }
}

benches="$build/tests/bench"
run qmp "$benches/monitor/qmp-bench" "${quick[@]}"
run agent "$benches/agent/agent-bench" "${quick[@]}"
run supervisor "$benches/supervisor/supervisor-bench" "${quick[@]}" \
    --json "$out/supervisor.json" --curve "$out/scale.dat" --guest-image "$build/guest-image"
run metrics "$benches/supervisor/metrics-bench" "${quick[@]}" --json "$out/metrics.json"
run migration "$benches/supervisor/migration-bench" "${quick[@]}" --json "$out/migration.json"

if [ -s "$out/scale.dat" ]; then
    gnuplot -e "data='$out/scale.dat'; out='$plot'; note='$(date -u +%F), load average $load at start'" \
        "$src/tests/bench/supervisor/scale.gp"
fi

python3 - "$out" "$load" "${quick[@]}" <<'PY'
import json, re, sys
from pathlib import Path
out, load, quick = Path(sys.argv[1]), sys.argv[2], len(sys.argv) > 3
results = {"mode": "quick" if quick else "full", "load_average_at_start": load}
qmp = out / "qmp.txt"
if qmp.exists():
    lines = [l for l in qmp.read_text().splitlines() if l.startswith('{"bench":"qmp"')]
    if lines: results["qmp"] = json.loads(lines[-1])
agent = out / "agent.txt"
if agent.exists():
    rates = re.findall(r"agent-bench: (\S+)\s+([\d.]+) round trips/s", agent.read_text())
    if rates: results["agent_direct"] = {name: float(rate) for name, rate in rates}
sup = out / "supervisor.json"
if sup.exists(): results["supervisor"] = json.loads(sup.read_text())
met = out / "metrics.json"
if met.exists(): results["metrics"] = json.loads(met.read_text())
mig = out / "migration.json"
if mig.exists(): results["migration"] = json.loads(mig.read_text())
(out / "results.json").write_text(json.dumps(results, indent=2) + "\n")

rows = []
if "qmp" in results:
    q = results["qmp"]
    rows.append(("QMP query-status cmd/s", f'{q["ours"]["cmd_per_s"]:.0f}', f'{q["raw"]["cmd_per_s"]:.0f} raw socket', f'x{q["ratio_throughput"]:.2f}'))
    rows.append(("QMP p50 / p99 us", f'{q["ours"]["p50_us"]:.0f} / {q["ours"]["p99_us"]:.0f}', f'{q["raw"]["p50_us"]:.0f} / {q["raw"]["p99_us"]:.0f}', f'x{q["ratio_p50"]:.2f} p50'))
if "agent_direct" in results:
    for name, rate in results["agent_direct"].items():
        rows.append((f"agent {name} /s (direct channel)", f"{rate:.0f}", "-", "-"))
if "supervisor" in results:
    s = results["supervisor"]
    o, sc, c = s["start_overhead"], s["scale"], s["crash_event"]
    rows.append((f'Start -> running ms (p50, {o["runs"]} runs)', f'{o["dbus_start_p50_ms"]:.1f}', f'{o["direct_qmp_ready_p50_ms"]:.1f} direct qemu', f'{o["overhead_p50_ms"]:+.1f} ms'))
    p = s["parallel_start"]
    rows.append((f'{sc["vms"]} VMs at once: s to all running', f'{sc["all_running_s"]:.2f}', f'{p["direct_all_ready_s"]:.2f} direct qemu', f'x{p["ratio"]:.2f}'))
    rows.append(("corrald RSS MiB before / after", f'{sc["rss_before_kib"]/1024:.1f} / {sc["rss_after_kib"]/1024:.1f}', "libvirtd ~40 idle", f'{sc["rss_per_vm_kib"]:.0f} KiB/VM'))
    rows.append(("ListInstances p50/p99 us, Detach stuck", f'{sc["list_while_stuck"]["p50_us"]:.0f} / {sc["list_while_stuck"]["p99_us"]:.0f}', "-", "-"))
    rows.append(("State read p50/p99 us, Detach stuck", f'{sc["property_while_stuck"]["p50_us"]:.0f} / {sc["property_while_stuck"]["p99_us"]:.0f}', "-", "-"))
    rows.append((f'corrald idle CPU % ({sc["idle_window_s"]:.0f} s)', f'{sc["idle_cpu_percent"]:.2f}', "-", "-"))
    rs = s["restart"]
    rows.append((f'restart, {rs["vms"]} running: ms to all reported (p50)', f'{rs["all_reported_p50_ms"]:.0f}', "goal 1 ms/VM", f'{rs["per_vm_ms"]:.2f} ms/VM'))
    rows.append(("reads during reattach p50/p99/max us", f'{rs["answered_p50_us"]:.0f} / {rs["answered_p99_us"]:.0f} / {rs["answered_max_us"]:.0f}', "-", f'{rs["reads"] - rs["refused"]}/{rs["reads"]} answered'))
    rows.append((f'kill -9 -> State=crashed ms p50/p99', f'{c["p50_us"]/1000:.1f} / {c["p99_us"]/1000:.1f}', "-", "-"))
    g = s.get("guest")
    if g:
        direct = results.get("agent_direct", {}).get("execute(true)")
        rows.append(("execute true /s via D-Bus GuestExecute", f'{g["execute_per_s"]:.1f}', f'{direct:.1f} direct' if direct else "-", f'x{g["execute_per_s"]/direct:.2f}' if direct else "-"))
        rows.append((f'disk attach+detach ms p50 ({g["hotplug_runs"]} runs)', f'{g["cycle_p50_ms"]:.0f}', "-", "-"))
if "metrics" in results:
    m = results["metrics"]
    rows.append((f'scrape p50/p99 us, {m["vms"]} VMs, 10/s', f'{m["scrape_p50_us"]:.0f} / {m["scrape_p99_us"]:.0f}', f'{m["direct_pass_p50_us"]:.0f} / {m["direct_pass_p99_us"]:.0f} /proc direct', f'x{m["scrape_p50_us"]/max(m["direct_pass_p50_us"],1):.2f} p50'))
    rows.append(("corrald CPU ms per scrape", f'{m["corrald_cpu_ms_per_scrape"]:.2f}', f'{m["direct_cpu_ms_per_pass"]:.2f} /proc direct', "-"))
if "migration" in results:
    g = results["migration"]
    rows.append((f'live migration ms p50 ({g["runs"]} runs)', f'{g["corral_p50_ms"]:.0f}', f'{g["bare_p50_ms"]:.0f} bare qemu+QMP', f'{g["corral_p50_ms"]-g["bare_p50_ms"]:+.0f} ms'))
print(f"\ncorral benchmarks ({results['mode']}; load average at start {load})")
print(f'{"measure":44} {"corral":>16} {"baseline":>20} {"ratio":>12}')
for r in rows: print(f"{r[0]:44} {r[1]:>16} {r[2]:>20} {r[3]:>12}")
print(f"\nresults: {out / 'results.json'}")
PY
[ -s "$out/scale.dat" ] && echo "plot: $plot"
exit $failed

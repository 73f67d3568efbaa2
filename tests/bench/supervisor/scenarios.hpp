// The supervisor benchmarks (issue 8, items 2-4; issue 15's parallel-start and restart
// baselines): each measures corrald through D-Bus against a baseline in the same run and returns
// its figures; nothing is judged here.
#pragma once

#include <string>
#include <vector>

namespace corral::bench {

struct Latency {
    double p50Us = 0;
    double p99Us = 0;
};

// The same VM twice under one corrald, [security] confine = true and false, and its unconfined
// argv launched directly (bare qemu), taken in turn in a rotating order.
struct StartOverhead {
    int runs = 0;
    double dbusP50Ms = 0;          // Start() call until its reply (state running), confined
    double directP50Ms = 0;        // the unconfined argv spawned by the bench until QMP answered
    double overheadP50Ms = 0;      // p50 of the per-round difference confined Start - direct
    double dbusOpenP50Ms = 0;      // Start() of the confine = false twin
    double overheadOpenP50Ms = 0;  // p50 of unconfined Start - direct
    double confineCostP50Ms = 0;   // p50 of the per-round difference confined - unconfined Start
};

struct ScalePoint {
    int vms = 0;
    double batchStartS = 0;  // the Start calls that brought the count here, issued at once
    long rssKib = 0;         // corrald's RSS at this count
    Latency list;            // ListInstances
    Latency property;        // State property read
};

struct ScaleRun {
    int vms = 0;
    double allRunningS = 0;      // the Start calls issued at once until every reply
    double directAllReadyS = 0;  // the same argvs launched by the bench at once, until each QMP
                                 // answered query-status (guests left paused)
    long rssBeforeKib = 0;
    long rssAfterKib = 0;
    Latency listWhileStuck;  // while one instance waits on a Detach the guest never acks
    Latency propertyWhileStuck;
    double idleCpuPercent = 0;  // corrald's CPU share over the idle window
    double idleWindowS = 0;
};

struct RestartRun {
    int vms = 0;
    int runs = 0;                 // restarts of the same corrald over the same running VMs
    double coldStartMs = 0;       // first corrald, the VMs defined but stopped, until it answered
    double stopP50Ms = 0;         // SIGTERM until corrald exited (its VMs kept running)
    double allReportedP50Ms = 0;  // new corrald spawned until ListInstances shows all running
    double allReportedMaxMs = 0;
    double firstAnswerP50Ms = 0;  // spawned until the first Version read corrald answered
    double cpuP50Ms = 0;          // CPU the new corrald had used by then (10 ms ticks)
    int reads = 0;                // Version reads sent until all were reported, one per ms or so
    int refused = 0;              // of those, refused by the bus: nobody owned org.corral1 yet
    Latency answered;             // the reads corrald answered, all restarts together
    double answeredMaxUs = 0;
};

struct CrashEvents {
    int runs = 0;
    Latency toCrashed;  // kill -9 of qemu until PropertiesChanged State=crashed arrives
};

// Alternates D-Bus Start and a direct launch of the same argv, `runs` times each.
StartOverhead measureStartOverhead(int runs);

// One corrald; VMs added in batches up to each count, figures taken at every count.
std::vector<ScalePoint> measureScaleCurve(const std::vector<int>& counts, int samples);

// A fresh corrald, `vms` started at once, then latency with a stuck unplug and idle CPU; last,
// the VMs killed and their argvs launched by the bench at once (the start's baseline).
ScaleRun measureScale(int vms, int samples, double idleSeconds);

// `vms` started under one corrald, then `runs` times: corrald stopped and started again, time
// until the new one reports every VM running (the same pids: reattached, not relaunched), reads
// polled meanwhile.
RestartRun measureRestart(int vms, int runs);

// kill -9 of an instance's qemu, `runs` times, until the State=crashed signal.
CrashEvents measureCrashEvents(int runs);

}  // namespace corral::bench

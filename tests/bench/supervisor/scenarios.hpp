// The supervisor benchmarks (issue 8, items 2-4): each measures corrald through D-Bus against a
// baseline in the same run and returns its figures; nothing is judged here.
#pragma once

#include <string>
#include <vector>

namespace corral::bench {

struct Latency {
    double p50Us = 0;
    double p99Us = 0;
};

struct StartOverhead {
    int runs = 0;
    double dbusP50Ms = 0;      // Start() call until its reply (state running)
    double directP50Ms = 0;    // same argv spawned by the bench until QMP answered `cont`
    double overheadP50Ms = 0;  // p50 of the per-pair difference
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
    double allRunningS = 0;
    long rssBeforeKib = 0;
    long rssAfterKib = 0;
    Latency listWhileStuck;  // while one instance waits on a Detach the guest never acks
    Latency propertyWhileStuck;
    double idleCpuPercent = 0;  // corrald's CPU share over the idle window
    double idleWindowS = 0;
};

struct CrashEvents {
    int runs = 0;
    Latency toCrashed;  // kill -9 of qemu until PropertiesChanged State=crashed arrives
};

// Alternates D-Bus Start and a direct launch of the same argv, `runs` times each.
StartOverhead measureStartOverhead(int runs);

// One corrald; VMs added in batches up to each count, figures taken at every count.
std::vector<ScalePoint> measureScaleCurve(const std::vector<int>& counts, int samples);

// A fresh corrald, `vms` started at once, then latency with a stuck unplug and idle CPU.
ScaleRun measureScale(int vms, int samples, double idleSeconds);

// kill -9 of an instance's qemu, `runs` times, until the State=crashed signal.
CrashEvents measureCrashEvents(int runs);

}  // namespace corral::bench

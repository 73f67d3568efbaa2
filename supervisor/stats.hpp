// What corrald measures of a VM, in plain types, and the pure parsers of the kernel files the
// figures come from (stats_parse.cpp). Reading the files and asking QMP happens in
// stats_collect.cpp; the cache that bounds how often that happens is StatsCache.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/string_table.hpp"

namespace corral::supervisor {

// One vCPU thread as query-cpus-fast names it.
struct VcpuThread {
    unsigned index = 0;
    pid_t threadId = 0;
};

struct VcpuSample {
    unsigned index = 0;
    std::uint64_t cpuUsec = 0;
};

// One block device as query-blockstats reports it.
struct DiskSample {
    std::string device;  // the corral device id (QEMU's qdev id), else the node name
    std::uint64_t readBytes = 0;
    std::uint64_t writtenBytes = 0;
    std::uint64_t readOps = 0;
    std::uint64_t writeOps = 0;
    std::uint64_t readTimeNs = 0;  // summed over every request: divided by ops, the mean latency
    std::uint64_t writeTimeNs = 0;
};

// A tap or bridge NIC's counters (the tap's line in qemu's /proc/PID/net/dev), seen from the
// guest: rx is what the guest received (the tap's tx). User-mode NICs have no host interface and
// no counters.
struct NicSample {
    std::string device;  // the corral device id
    std::string ifname;
    std::uint64_t rxBytes = 0;
    std::uint64_t rxPackets = 0;
    std::uint64_t rxDropped = 0;
    std::uint64_t txBytes = 0;
    std::uint64_t txPackets = 0;
    std::uint64_t txDropped = 0;
};

// Where CPU and memory came from: the VM's own cgroup (the corral-NAME.scope systemd made), or
// the qemu process (/proc/PID/stat utime+stime and VmRSS) when it has no cgroup of its own.
enum class StatsSource { None, Cgroup, Process };
inline constexpr auto kStatsSources =
    makeStringTable<StatsSource>({{StatsSource::None, "none"},
                                  {StatsSource::Cgroup, "cgroup"},
                                  {StatsSource::Process, "process"}});
inline std::string_view toString(StatsSource source) {
    return kStatsSources.toString(source);
}

// PSI "some" totals of the scope: time at least one task waited. Only with a cgroup of its own.
struct PressureSample {
    std::uint64_t cpuUsec = 0;
    std::uint64_t memoryUsec = 0;
    std::uint64_t ioUsec = 0;
};

// One sample of one VM. A VM without a running qemu has zeros and empty lists.
struct VmSample {
    std::string name;
    std::string state;     // Instance state ("running", "stopped", ...)
    bool running = false;  // a qemu process exists (running or paused)
    StatsSource source = StatsSource::None;
    std::uint64_t cpuUsec = 0;
    std::vector<VcpuSample> vcpus;
    std::uint64_t memoryBytes = 0;
    std::optional<PressureSample> pressure;
    std::vector<DiskSample> disks;
    std::vector<NicSample> nics;
    std::uint64_t uptimeUsec = 0;
    std::uint64_t sampledAtUsec = 0;  // realtime, when it was taken; 0: never
};

// cgroup v2 cpu.stat: usage_usec.
std::optional<std::uint64_t> parseCpuStat(std::string_view text);
// A single number file such as memory.current.
std::optional<std::uint64_t> parseNumber(std::string_view text);
// cpu.pressure / memory.pressure / io.pressure: the "some" line's total= (usec).
std::optional<std::uint64_t> parsePressureSome(std::string_view text);
// /proc/PID/cgroup: the cgroup v2 path ("0::/system.slice/corral-a.scope" → that path).
std::optional<std::string> parseUnifiedCgroup(std::string_view text);
// /proc/PID/cgroup: the path in the cgroup v1 hierarchy of `controller` ("4:memory:/a.scope").
std::optional<std::string> parseV1Cgroup(std::string_view text, std::string_view controller);
// Whether a cgroup path is the VM's own scope: its last component is corral-NAME.scope.
bool isOwnScope(std::string_view cgroup, std::string_view name);
// /proc/PID/stat or /proc/PID/task/TID/stat: utime+stime in usec, at `ticksPerSecond`.
std::optional<std::uint64_t> parseProcStatCpu(std::string_view text, long ticksPerSecond);
// /proc/PID/status: VmRSS in bytes.
std::optional<std::uint64_t> parseStatusRss(std::string_view text);
// One interface's line of /proc/net/dev, as the host counts: the tap's receive side is what the
// guest sent. Fields left zero in `NicSample::device`.
std::optional<NicSample> parseNetDev(std::string_view text, std::string_view ifname);
// The corral device id in query-blockstats' qdev path ("/machine/peripheral/disk0/virtio-backend"
// → "disk0"); empty when it is not a user-created device.
std::string deviceIdOfQdev(std::string_view qdev);

}  // namespace corral::supervisor

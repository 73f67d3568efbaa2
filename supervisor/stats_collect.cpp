// Sampling a VM: the kernel's files of its qemu (cgroup or /proc, PSI, tap counters) are read at
// once, they are in-memory files that never block; vCPU threads and block statistics come from
// QMP through the RunningQemu's own monitor, bounded by the QMP timeout like every command.
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "supervisor/qemu_vm.hpp"
#include "supervisor/running_qemu.hpp"
#include "supervisor/stats.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;

namespace {

std::optional<std::string> readSmallFile(const std::string& path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

template <typename Parse>
auto readWith(const std::string& path, Parse parse) -> decltype(parse(std::string_view())) {
    auto text = readSmallFile(path);
    if (!text) return std::nullopt;
    return parse(*text);
}

long ticksPerSecond() {
    static const long ticks = sysconf(_SC_CLK_TCK);
    return ticks;
}

std::optional<std::uint64_t> cpuOfStatFile(const std::string& path) {
    return readWith(path, [](std::string_view t) { return parseProcStatCpu(t, ticksPerSecond()); });
}

// Where the cgroup v2 hierarchy is mounted: /sys/fs/cgroup (unified), or /sys/fs/cgroup/unified
// on a host in systemd's hybrid mode, whose controllers (memory among them) are cgroup v1.
const std::string& unifiedRoot() {
    static const std::string root = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0
                                        ? "/sys/fs/cgroup"
                                        : "/sys/fs/cgroup/unified";
    return root;
}

// The scope's memory: memory.current with the v2 memory controller, else (hybrid) the v1
// memory controller's usage of the same scope.
std::optional<std::uint64_t> scopeMemory(const std::string& dir, const std::string& cgroups,
                                         const std::string& name) {
    if (auto current = readWith(dir + "/memory.current", parseNumber)) return current;
    auto v1 = parseV1Cgroup(cgroups, "memory");
    if (!v1 || !isOwnScope(*v1, name)) return std::nullopt;
    return readWith("/sys/fs/cgroup/memory" + *v1 + "/memory.usage_in_bytes", parseNumber);
}

// CPU, memory and pressure: the scope's cgroup when qemu has one of its own, else the process.
// Memory comes from the scope too when a memory controller accounts it (v2 memory.current, or v1
// on a hybrid host), else from qemu's RSS: a container on a hybrid host, for one, has no memory
// controller of its own.
void readProcess(pid_t pid, const std::string& name, VmSample& out) {
    auto proc = "/proc/" + std::to_string(pid);
    auto rss = [&] { return readWith(proc + "/status", parseStatusRss).value_or(0); };
    auto cgroups = readSmallFile(proc + "/cgroup").value_or("");
    auto cgroup = parseUnifiedCgroup(cgroups);
    if (cgroup && isOwnScope(*cgroup, name)) {
        auto dir = unifiedRoot() + *cgroup;
        if (auto cpu = readWith(dir + "/cpu.stat", parseCpuStat)) {
            out.source = StatsSource::Cgroup;
            out.cpuUsec = *cpu;
            out.memoryBytes = scopeMemory(dir, cgroups, name).value_or(rss());
            PressureSample pressure;
            pressure.cpuUsec = readWith(dir + "/cpu.pressure", parsePressureSome).value_or(0);
            pressure.memoryUsec = readWith(dir + "/memory.pressure", parsePressureSome).value_or(0);
            pressure.ioUsec = readWith(dir + "/io.pressure", parsePressureSome).value_or(0);
            out.pressure = pressure;
            return;
        }
    }
    out.source = StatsSource::Process;
    out.cpuUsec = cpuOfStatFile(proc + "/stat").value_or(0);
    out.memoryBytes = rss();
}

// The taps live in qemu's network namespace (where corrald opened them): its /proc/PID/net/dev.
void readNics(pid_t pid, const std::vector<hypervisor::Device>& devices, VmSample& out) {
    std::optional<std::string> netDev;
    for (const auto& device : devices) {
        if (device.kindName() != "nic" || device.backend.empty()) continue;
        if (!netDev) netDev = readSmallFile("/proc/" + std::to_string(pid) + "/net/dev");
        auto host = netDev ? parseNetDev(*netDev, device.backend) : std::nullopt;
        NicSample nic;
        nic.device = device.id;
        nic.ifname = device.backend;
        if (host) {
            // What the tap sends, the guest receives.
            nic.rxBytes = host->txBytes;
            nic.rxPackets = host->txPackets;
            nic.rxDropped = host->txDropped;
            nic.txBytes = host->rxBytes;
            nic.txPackets = host->rxPackets;
            nic.txDropped = host->rxDropped;
        }
        out.nics.push_back(std::move(nic));
    }
}

}  // namespace

void RunningQemu::sample(VmSample base, std::vector<hypervisor::Device> devices,
                         Reply<VmSample> reply) {
    life_.run<VmSample>(sampleSteps(std::move(base), std::move(devices)), std::move(reply),
                        exitedDuring("sampling"));
}

asio::awaitable<Outcome<VmSample>> RunningQemu::sampleSteps(
    VmSample out, std::vector<hypervisor::Device> devices) {
    readProcess(pid(), name_, out);
    readNics(pid(), devices, out);
    if (monitorState_ != MonitorState::Connected) co_return out;
    std::string cpusCommand = R"({"execute":"query-cpus-fast"})";
    auto cpus = co_await watched(qmp_->passthrough(std::move(cpusCommand)));
    if (cpus) {
        if (auto threads = parseVcpuThreads(cpus.value())) {
            auto task = "/proc/" + std::to_string(pid()) + "/task/";
            for (const auto& t : threads.value())
                out.vcpus.push_back(
                    {t.index,
                     cpuOfStatFile(task + std::to_string(t.threadId) + "/stat").value_or(0)});
        }
    }
    if (monitorState_ != MonitorState::Connected) co_return out;
    std::string blockCommand = R"({"execute":"query-blockstats"})";
    auto blocks = co_await watched(qmp_->passthrough(std::move(blockCommand)));
    if (blocks) {
        if (auto disks = parseBlockStats(blocks.value())) out.disks = std::move(disks.value());
    }
    co_return out;
}

void QemuVm::sample(Reply<VmSample> reply) {
    VmSample base;
    base.name = name_;
    base.state = toString(instance_.state());
    base.sampledAtUsec = context_.clock.realtimeUsec();
    if (!running_) return reply(std::move(base));
    base.running = true;
    auto started = instance_.startedAtUsec();
    if (started > 0 && started < base.sampledAtUsec) base.uptimeUsec = base.sampledAtUsec - started;
    running_->sample(std::move(base), devices(), std::move(reply));
}

}  // namespace corral::supervisor

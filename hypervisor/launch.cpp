#include "hypervisor/launch.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <stdexcept>

#include "hypervisor/tap.hpp"

namespace corral::hypervisor {
namespace {

std::uint64_t realtimeMicros() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

}  // namespace

std::vector<DeviceRecord> bootDeviceRecords(const InstanceSpec& spec, const SlotPlan& plan,
                                            const std::vector<std::string>& tapNames) {
    std::vector<DeviceRecord> records;
    for (const auto& device : plan.devices) {
        std::string path;
        for (const auto& disk : spec.disks) {
            if (disk.id == device.id) path = disk.path.string();
        }
        for (std::size_t i = 0; i < spec.nics.size() && i < tapNames.size(); ++i) {
            if (spec.nics[i].id == device.id) path = tapNames[i];
        }
        records.push_back({device.id, device.kind, device.slot, false, path});
    }
    return records;
}

LaunchedInstance launchInstance(const boost::asio::any_io_executor& executor,
                                const InstanceSpec& spec, const std::filesystem::path& runtimeRoot,
                                const std::string& binary) {
    auto plan = planSlots(spec);
    auto paths = RuntimePaths::forInstance(runtimeRoot, spec.name);
    createRuntimeDir(paths);
    auto argv = buildQemuArgv(spec, plan, paths);
    argv.front() = binary;
    // Taps stay open only until qemu holds its copies (closed when `taps` goes out of scope).
    std::vector<TapDevice> taps;
    std::vector<int> fds;
    std::vector<std::string> tapNames;
    for (const auto& nic : spec.nics) {
        if (nic.mode == NicMode::User) {
            tapNames.emplace_back();
            continue;
        }
        auto tap = openTap("", nic.mode == NicMode::Bridge ? nic.bridge : std::string());
        if (!tap) throw std::runtime_error("NIC " + nic.id + ": " + tap.error().message);
        fds.push_back(tap->fd());
        tapNames.push_back(tap->name());
        taps.push_back(std::move(*tap));
    }
    RuntimeState state;
    state.argv = argv;
    state.startedAtUsec = realtimeMicros();
    auto process = QemuProcess::spawn(executor, argv, paths.logFile, fds);
    state.pid = process.pid();
    state.devices = bootDeviceRecords(spec, plan, tapNames);
    if (auto error = writeState(paths, state)) {
        process.kill(SIGKILL);
        ::waitpid(process.pid(), nullptr, 0);
        throw std::runtime_error(*error);
    }
    return {std::move(plan), std::move(paths), std::move(state), std::move(process)};
}

}  // namespace corral::hypervisor

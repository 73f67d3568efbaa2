// Starting and re-finding a qemu the way corrald does it: runtime dir, slot plan, argv, taps,
// spawn (paused, -S) and state.json; and, after a corrald restart, the reverse: state.json +
// qemu.pid -> a live qemu proven to be ours -> pidfd and a fresh QMP connection.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "hypervisor/qemu_argv.hpp"
#include "hypervisor/qemu_process.hpp"
#include "hypervisor/runtime_dir.hpp"
#include "monitor/qmp_client.hpp"

namespace corral::hypervisor {

struct LaunchedInstance {
    SlotPlan plan;
    RuntimePaths paths;
    RuntimeState state;  // as written to state.json
    QemuProcess process;
};

// Creates the runtime dir, opens taps for tap/bridge NICs, spawns qemu paused and writes
// state.json. Throws (std::system_error / std::runtime_error) with a sentence on failure;
// a qemu that was started is killed again before throwing. `binary` replaces argv[0].
LaunchedInstance launchInstance(const boost::asio::any_io_executor& executor,
                                const InstanceSpec& spec, const std::filesystem::path& runtimeRoot,
                                const std::string& binary = kDefaultQemuBinary);

// state.json's records of the devices on qemu's command line; `tapNames` holds one entry per NIC
// of the spec ("" for user mode) or is empty when the names are unknown.
std::vector<DeviceRecord> bootDeviceRecords(const InstanceSpec& spec, const SlotPlan& plan,
                                            const std::vector<std::string>& tapNames);

struct ReattachedInstance {
    RuntimeState state;
    QemuProcess process;
    std::shared_ptr<monitor::QmpClient> qmp;
};

// Error kind when there is no live qemu of ours to reattach to.
inline constexpr std::string_view kNotOurs = "NotOurs";

// Reads state.json and qemu.pid, adopts the pid only if it is alive and its cmdline equals the
// saved argv, then reconnects QMP within `window`.
monitor::awaitable<monitor::Result<ReattachedInstance>> reattachInstance(
    boost::asio::any_io_executor executor, RuntimePaths paths,
    std::chrono::milliseconds window = std::chrono::seconds(10));

}  // namespace corral::hypervisor

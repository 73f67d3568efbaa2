// The QEMU command line as a pure function of (spec, slot plan, runtime paths).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "hypervisor/instance_spec.hpp"
#include "hypervisor/slot_plan.hpp"

namespace corral::hypervisor {

// The files of one instance under the runtime root (DESIGN.md "Runtime dir").
struct RuntimePaths {
    std::filesystem::path dir;
    std::filesystem::path qmpSocket;
    std::filesystem::path serialSocket;
    std::filesystem::path negotiatorHostToGuest;
    std::filesystem::path negotiatorGuestToHost;
    std::filesystem::path pidFile;
    std::filesystem::path stateFile;
    std::filesystem::path logFile;

    // Paths for `name` under `runtimeRoot` (/run/corral in production). Throws
    // std::invalid_argument if the name is not a valid instance name: no path from bad input.
    static RuntimePaths forInstance(const std::filesystem::path& runtimeRoot,
                                    std::string_view name);
};

// Virtio-serial port names the guest agent looks for.
inline constexpr std::string_view kHostToGuestPort = "negotiator-host-to-guest.0";
inline constexpr std::string_view kGuestToHostPort = "negotiator-guest-to-host.0";

// NICs in tap/bridge mode get their tap fd from the spawner: the k-th such NIC (in spec order)
// uses fd kFirstTapFd + k in qemu (QemuProcess::spawn's `passFds` places them there).
inline constexpr int kFirstTapFd = 3;

// The emulator corrald runs unless `[qemu] binary` in corral.toml names another (looked up in PATH
// unless absolute).
inline constexpr const char* kDefaultQemuBinary = "qemu-system-x86_64";

// Full argv for qemu-system-x86_64, starting with kDefaultQemuBinary. Paused (-S), no defaults,
// every PCI device at the bus/addr of `plan`.
std::vector<std::string> buildQemuArgv(const InstanceSpec& spec, const SlotPlan& plan,
                                       const RuntimePaths& paths);

// QEMU ids of a disk's block nodes and of a NIC's netdev, shared by argv and hotplug.
std::string fileNodeName(std::string_view diskId);
std::string formatNodeName(std::string_view diskId);
std::string netdevId(std::string_view nicId);

}  // namespace corral::hypervisor

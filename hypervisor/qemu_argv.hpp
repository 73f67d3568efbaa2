// The QEMU command line as a pure function of (spec, slot plan, runtime paths).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "hypervisor/instance_spec.hpp"
#include "hypervisor/slot_plan.hpp"
#include "hypervisor/tap.hpp"

namespace corral::hypervisor {

// The files of one instance under the runtime root (DESIGN.md "Runtime dir").
struct RuntimePaths {
    std::filesystem::path dir;
    std::filesystem::path qmpSocket;
    std::filesystem::path serialSocket;
    std::filesystem::path negotiatorHostToGuest;
    std::filesystem::path negotiatorGuestToHost;
    std::filesystem::path qemuGaSocket;  // the org.qemu.guest_agent.0 port
    std::filesystem::path pidFile;
    std::filesystem::path stateFile;
    std::filesystem::path logFile;
    // What the guest writes on its serial console, also copied here (log_paths.hpp); empty: not.
    std::filesystem::path consoleLog;

    // Paths for `name` under `runtimeRoot` (/run/corral in production). Throws
    // std::invalid_argument if the name is not a valid instance name: no path from bad input.
    static RuntimePaths forInstance(const std::filesystem::path& runtimeRoot,
                                    std::string_view name);
};

// Virtio-serial port names the guest agent looks for.
inline constexpr std::string_view kHostToGuestPort = "negotiator-host-to-guest.0";
inline constexpr std::string_view kGuestToHostPort = "negotiator-guest-to-host.0";
// The port qemu-guest-agent opens.
inline constexpr std::string_view kQemuGaPort = "org.qemu.guest_agent.0";

// Devices whose backend takes an fd at spawn (NICs in tap/bridge mode) get it from the spawner:
// the k-th such fd, in argv order, is fd kFirstPassedFd + k in qemu (QemuProcess::spawn's
// `passFds` places them there; openBootFds opens them in that order).
inline constexpr int kFirstPassedFd = 3;

// The emulator corrald runs unless `[qemu] binary` in corral.toml names another (looked up in PATH
// unless absolute).
inline constexpr const char* kDefaultQemuBinary = "qemu-system-x86_64";

// Full argv for qemu-system-x86_64, starting with kDefaultQemuBinary. Paused (-S), no defaults,
// every PCI device at the bus/addr of `plan`.
std::vector<std::string> buildQemuArgv(const InstanceSpec& spec, const SlotPlan& plan,
                                       const RuntimePaths& paths);

// Opens the fds the boot devices' backends take (taps), in argv order, and names each in its
// Device::backend. Throws std::runtime_error naming the device; what was opened is closed.
std::vector<TapDevice> openBootFds(std::vector<Device>& devices);

// QEMU option syntax: a comma inside a value is written as two commas.
std::string escapeOption(std::string_view value);

}  // namespace corral::hypervisor

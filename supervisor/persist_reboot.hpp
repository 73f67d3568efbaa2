// The qemu a Reboot starts: the definition of now plus every device hotplugged into the qemu that
// just stopped (hypervisor::relaunchLayout), so a reboot keeps what the VM had, as libvirt's does.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "supervisor/qemu_parts.hpp"

namespace corral::supervisor {

// Launches `spec` with the hotplugged records of `previous` added; a plain parts.launch when
// there are none. Each device moved or left out is logged (`log`, priority 4). Throws as
// QemuParts::launch does.
LaunchedQemu launchForReboot(QemuParts& parts, const hypervisor::InstanceSpec& spec,
                             const std::vector<hypervisor::Device>& previous,
                             const std::filesystem::path& runtimeRoot, const std::string& binary,
                             const std::function<void(int, const std::string&)>& log);

}  // namespace corral::supervisor

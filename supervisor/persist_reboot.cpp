#include "supervisor/persist_reboot.hpp"

#include <algorithm>

#include "hypervisor/relaunch_layout.hpp"

namespace corral::supervisor {

LaunchedQemu launchForReboot(QemuParts& parts, const hypervisor::InstanceSpec& spec,
                             const std::vector<hypervisor::Device>& previous,
                             const std::filesystem::path& runtimeRoot, const std::string& binary,
                             const std::function<void(int, const std::string&)>& log) {
    bool anyHotplugged = std::any_of(previous.begin(), previous.end(),
                                     [](const hypervisor::Device& d) { return d.hotplugged; });
    if (!anyHotplugged) return parts.launch(spec, runtimeRoot, binary);
    auto layout = hypervisor::relaunchLayout(hypervisor::planSlots(spec), previous);
    for (const auto& note : layout.notes) log(4, "reboot: " + note);
    return parts.relaunch(spec, std::move(layout.devices), runtimeRoot, binary);
}

}  // namespace corral::supervisor

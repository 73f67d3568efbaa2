#include "hypervisor/scsi_controller.hpp"

#include <algorithm>

#include "hypervisor/disk_nic_options.hpp"

namespace corral::hypervisor {

std::optional<Device> scsiControllerFor(const std::vector<Device>& devices) {
    bool any = false;
    bool iothread = false;
    for (const auto& device : devices) {
        if (!device.onScsi()) continue;
        any = true;
        iothread = iothread || device.flag("iothread");
    }
    if (!any) return std::nullopt;
    Device controller{std::string(kScsiControllerId), &scsiControllerKind()};
    controller.options.emplace("iothread", iothread);
    return controller;
}

std::optional<unsigned> freeScsiId(const std::vector<const Device*>& used) {
    for (unsigned id = 0; id < kMaxScsiIds; ++id) {
        bool taken = std::any_of(used.begin(), used.end(), [&](const Device* device) {
            return device->slot.bus == kScsiBus && device->slot.slot == id;
        });
        if (!taken) return id;
    }
    return std::nullopt;
}

void addScsiControllerArgs(const Device& controller, std::vector<std::string>& argv) {
    std::string line = std::string(controller.driver()) + ",id=" + controller.id;
    if (controller.flag("iothread")) {
        argv.insert(argv.end(), {"-object", "iothread,id=" + iothreadOf(controller.id)});
        line += ",iothread=" + iothreadOf(controller.id);
    }
    for (const auto& [property, value] : placement(controller.slot))
        line += "," + property + "=" + value;
    argv.insert(argv.end(), {"-device", line});
}

}  // namespace corral::hypervisor

#include "hypervisor/boot_order.hpp"

namespace corral::hypervisor {

std::string_view bootTargetKind(BootTarget target) {
    switch (target) {
        case BootTarget::Cdrom:
            return "cdrom";
        case BootTarget::Disk:
            return "disk";
        case BootTarget::Network:
            return "nic";
    }
    return {};
}

std::map<std::string, unsigned, std::less<>> bootIndexes(const InstanceSpec& spec,
                                                         const std::vector<Device>& devices) {
    std::map<std::string, unsigned, std::less<>> out;
    if (spec.boot) return out;  // a kernel booted directly needs no firmware boot order
    if (spec.bootOrder.empty()) {
        for (const auto& device : devices) {
            if (device.kind && device.kind->definable && device.kind->bootable) {
                out.emplace(device.id, 1);
                break;
            }
        }
        return out;
    }
    unsigned index = 1;
    for (auto target : spec.bootOrder) {
        for (const auto& device : devices) {
            if (device.kind && device.kind->definable &&
                device.kindName() == bootTargetKind(target)) {
                out.emplace(device.id, index++);
                break;
            }
        }
    }
    return out;
}

}  // namespace corral::hypervisor

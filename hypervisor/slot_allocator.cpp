#include "hypervisor/slot_allocator.hpp"

#include <algorithm>

namespace corral::hypervisor {

SlotAllocator::SlotAllocator(const SlotPlan& plan) : machine_(plan.machine) {
    if (machine_ == MachineType::Q35) {
        for (const auto& port : plan.hotplugPorts) candidates_.push_back({port, 0});
        return;
    }
    auto reserved = reservedRootSlots(machine_);
    for (unsigned slot = 0; slot < 32; ++slot) {
        PciSlot candidate{plan.rootBus(), slot};
        bool taken = std::find(reserved.begin(), reserved.end(), slot) != reserved.end() ||
                     std::any_of(plan.devices.begin(), plan.devices.end(),
                                 [&](const Device& d) { return d.slot == candidate; });
        if (!taken) candidates_.push_back(candidate);
    }
}

std::optional<PciSlot> SlotAllocator::allocate(const std::string& deviceId) {
    for (std::size_t i = 0; i < candidates_.size(); ++i) {
        if (owners_.count(i)) continue;
        owners_[i] = deviceId;
        return candidates_[i];
    }
    return std::nullopt;
}

void SlotAllocator::release(const std::string& deviceId) {
    std::erase_if(owners_, [&](const auto& entry) { return entry.second == deviceId; });
}

void SlotAllocator::reconcile(const std::vector<OccupiedSlot>& occupied) {
    owners_.clear();
    for (const auto& device : occupied) {
        for (std::size_t i = 0; i < candidates_.size(); ++i) {
            if (candidates_[i].bus == device.bus && candidates_[i].slot == device.slot) {
                owners_[i] = device.deviceId;
            }
        }
    }
}

std::optional<PciSlot> SlotAllocator::slotOf(const std::string& deviceId) const {
    if (deviceId.empty()) return std::nullopt;
    for (const auto& [index, owner] : owners_) {
        if (owner == deviceId) return candidates_[index];
    }
    return std::nullopt;
}

unsigned SlotAllocator::used() const {
    return static_cast<unsigned>(owners_.size());
}

std::string SlotAllocator::exhaustedMessage() const {
    std::string counts = std::to_string(used()) + " of " + std::to_string(capacity()) + " used";
    if (machine_ == MachineType::Q35) {
        return "no free hotplug slot: " + counts + "; raise machine.hotplug_slots";
    }
    return "no free hotplug slot on pci.0: " + counts + "; detach a device first";
}

}  // namespace corral::hypervisor

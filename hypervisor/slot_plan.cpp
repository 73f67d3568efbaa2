#include "hypervisor/slot_plan.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "hypervisor/ide_ports.hpp"
#include "hypervisor/scsi_controller.hpp"

namespace corral::hypervisor {

namespace {
constexpr unsigned kRootSlots = 32;
}

std::string SlotPlan::rootBus() const {
    return machine == MachineType::Pc ? "pci.0" : "pcie.0";
}

std::optional<PciSlot> SlotPlan::find(std::string_view id) const {
    for (const auto& device : devices) {
        if (device.id == id) return device.slot;
    }
    return std::nullopt;
}

std::vector<unsigned> reservedRootSlots(MachineType machine) {
    // pc: 0 = i440FX host bridge, 1 = PIIX3 (ISA, IDE, USB, ACPI functions).
    // q35: 0 = MCH host bridge, 0x1f = ICH9 LPC, SATA and SMBus functions.
    if (machine == MachineType::Pc) return {0, 1};
    return {0, 0x1f};
}

std::string rootPortId(unsigned index) {
    return "corral-rp" + std::to_string(index);
}

SlotPlan planSlots(const InstanceSpec& spec) {
    SlotPlan plan;
    plan.machine = spec.machine.type;
    auto reserved = reservedRootSlots(plan.machine);
    unsigned next = 0;
    auto place = [&](Device device) {
        while (next < kRootSlots &&
               std::find(reserved.begin(), reserved.end(), next) != reserved.end()) {
            ++next;
        }
        if (next >= kRootSlots) {
            throw std::invalid_argument(
                "too many PCI devices for the root bus " + plan.rootBus() + ": " +
                std::to_string(kRootSlots - reserved.size()) +
                " slots are available for devices, the agent port and hotplug ports");
        }
        device.slot = {plan.rootBus(), next++};
        plan.devices.push_back(std::move(device));
    };
    if (auto* vga = vgaKind(spec.display.vga)) place({kVgaId, vga});
    if (spec.agent.anyPort()) place({std::string(kAgentPortId), &agentPortKind()});
    auto idePlaces = assignIdePorts(plan.machine, spec.devices);
    if (auto controller = scsiControllerFor(spec.devices)) place(std::move(*controller));
    unsigned scsiId = 0;
    for (const auto& device : spec.devices) {
        if (usesIdePort(device)) {
            auto& placed = plan.devices.emplace_back(device);
            for (const auto& [id, port] : idePlaces)
                if (id == device.id) placed.slot = port;
            continue;
        }
        if (!device.onScsi()) {
            place(device);
            continue;
        }
        if (scsiId >= kMaxScsiIds) {
            throw std::invalid_argument("too many SCSI disks: the controller takes " +
                                        std::to_string(kMaxScsiIds));
        }
        plan.devices.push_back(device);
        plan.devices.back().slot = {std::string(kScsiBus), scsiId++};
    }
    if (plan.machine == MachineType::Q35) {
        for (unsigned i = 0; i < spec.machine.hotplugSlots; ++i) {
            place({rootPortId(i), &rootPortKind()});
            plan.hotplugPorts.push_back(rootPortId(i));
        }
    }
    return plan;
}

}  // namespace corral::hypervisor

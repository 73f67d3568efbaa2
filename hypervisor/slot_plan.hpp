// Where every boot-time PCI device goes. QEMU never picks a slot itself: each device in the argv
// carries the bus/addr from this plan, so a later hotplug never collides with an auto-assigned one.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hypervisor/instance_spec.hpp"

namespace corral::hypervisor {

struct SlotPlan {
    MachineType machine = MachineType::Q35;
    // Boot-time devices with their slots, in argv order: the agent port, the definition's
    // devices, the hotplug root ports. What state.json records for a freshly started qemu.
    std::vector<Device> devices;
    std::vector<std::string> hotplugPorts;  // q35: ids of the root ports left free for hotplug

    // Root bus of the machine: "pci.0" or "pcie.0".
    std::string rootBus() const;
    std::optional<PciSlot> find(std::string_view id) const;
};

// Root-bus slots QEMU itself occupies and nobody may use: host bridge, PIIX3 / ICH9 functions.
std::vector<unsigned> reservedRootSlots(MachineType machine);

// Places virtio-serial (if the agent is on), the definition's devices and (q35) hotplug root
// ports on the root bus in that order. Throws std::invalid_argument if they do not fit.
SlotPlan planSlots(const InstanceSpec& spec);

// Id of the i-th hotplug root port ("corral-rp<i>"); user device ids may not start with "corral".
std::string rootPortId(unsigned index);

// Id of the agent's virtio-serial controller.
inline constexpr std::string_view kAgentPortId = "corral-vserial";

}  // namespace corral::hypervisor

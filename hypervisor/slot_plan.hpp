// Where every boot-time PCI device goes. QEMU never picks a slot itself: each device in the argv
// carries the bus/addr from this plan, so a later hotplug never collides with an auto-assigned one.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hypervisor/instance_spec.hpp"

namespace corral::hypervisor {

struct PciSlot {
    std::string bus;  // "pci.0" (pc), "pcie.0" or a root port id (q35)
    unsigned slot = 0;

    // "bus:SS.0" with the slot in hex, e.g. "pci.0:05.0"; what AttachDisk returns.
    std::string toString() const;
    // The value of QEMU's addr= property, e.g. "0x5".
    std::string addr() const;
    bool operator==(const PciSlot&) const = default;
};

struct PlannedDevice {
    std::string id;    // QEMU device id
    std::string kind;  // "virtio-serial" | "disk" | "nic" | "root-port"
    PciSlot slot;
};

struct SlotPlan {
    MachineType machine = MachineType::Q35;
    std::vector<PlannedDevice> devices;     // boot-time devices, in argv order
    std::vector<std::string> hotplugPorts;  // q35: ids of the root ports left free for hotplug

    // Root bus of the machine: "pci.0" or "pcie.0".
    std::string rootBus() const;
    std::optional<PciSlot> find(std::string_view id) const;
};

// Root-bus slots QEMU itself occupies and nobody may use: host bridge, PIIX3 / ICH9 functions.
std::vector<unsigned> reservedRootSlots(MachineType machine);

// Places virtio-serial (if the agent is on), disks, NICs and (q35) hotplug root ports on the
// root bus in that order. Throws std::invalid_argument if they do not fit on the root bus.
SlotPlan planSlots(const InstanceSpec& spec);

// Id of the i-th hotplug root port ("corral-rp<i>"); user device ids may not start with "corral".
std::string rootPortId(unsigned index);

}  // namespace corral::hypervisor

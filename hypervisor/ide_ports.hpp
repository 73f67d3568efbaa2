// The ports of the machine's built-in IDE (pc: PIIX3, two buses of two units) or AHCI (q35:
// ICH9, six buses of one unit each) controller, shared by CD-ROMs and disks with bus = "sata".
// Such a device has no PCI slot: its Device::slot carries the IDE bus ("ide.0") and the unit.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "hypervisor/device.hpp"
#include "hypervisor/instance_spec.hpp"

namespace corral::hypervisor {

// Whether `device` sits on an IDE/AHCI port: a cdrom, or a disk with bus = "sata".
bool usesIdePort(const Device& device);

// The ports of `machine`'s built-in controller, in the order they are handed out.
std::vector<PciSlot> idePorts(MachineType machine);

// The ports of the devices of `devices` that use one, in their order (the others get nothing).
// Throws std::invalid_argument when there are more of them than ports.
std::vector<std::pair<std::string, PciSlot>> assignIdePorts(MachineType machine,
                                                            const std::vector<Device>& devices);

// Whether a slot names an IDE/AHCI port rather than a PCI slot.
bool isIdePort(const PciSlot& slot);

}  // namespace corral::hypervisor

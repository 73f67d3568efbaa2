// Which devices carry a bootindex=. Without [boot] order, the first device of a bootable kind
// boots (bootindex=1), unless a kernel is booted directly. With [boot] order = ["cdrom", "disk",
// "network"], the first CD-ROM, the first disk and the first NIC get bootindex 1, 2, 3 in the
// order given; the firmware (SeaBIOS or OVMF) tries them in that order and nothing else.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "hypervisor/instance_spec.hpp"

namespace corral::hypervisor {

// The device kind a [boot] order entry names: "cdrom", "disk" or "nic".
std::string_view bootTargetKind(BootTarget target);

// Device id -> bootindex for the definable devices of `devices` (in argv order).
std::map<std::string, unsigned, std::less<>> bootIndexes(const InstanceSpec& spec,
                                                         const std::vector<Device>& devices);

}  // namespace corral::hypervisor

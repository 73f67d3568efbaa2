// corral's virtio-scsi controller: one per VM, present when any boot-time disk has bus "scsi".
// Its disks sit on its bus (kScsiBus) at a scsi-id each instead of a PCI slot; a disk asking for
// an iothread makes the controller run in one (virtio-scsi has one per controller, not per disk).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "hypervisor/device.hpp"

namespace corral::hypervisor {

// The controller for `devices` (id kScsiControllerId, option "iothread" true when any of its
// disks asked for one), or nullopt when no device sits on the SCSI bus.
std::optional<Device> scsiControllerFor(const std::vector<Device>& devices);

// The lowest scsi-id on kScsiBus that none of `used` (devices of any bus) occupies, or nullopt
// when all kMaxScsiIds are taken.
std::optional<unsigned> freeScsiId(const std::vector<const Device*>& used);
inline constexpr unsigned kMaxScsiIds = 256;

// The controller's arguments: its iothread object if it has one, and its -device at `slot`.
void addScsiControllerArgs(const Device& controller, std::vector<std::string>& argv);

}  // namespace corral::hypervisor

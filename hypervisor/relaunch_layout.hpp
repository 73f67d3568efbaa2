// The devices of a qemu started again by a reboot: the definition's boot-time devices as the slot
// plan places them, plus every device hotplugged into the previous qemu, so a reboot loses none.
#pragma once

#include <string>
#include <vector>

#include "hypervisor/slot_plan.hpp"

namespace corral::hypervisor {

struct RelaunchLayout {
    // plan.devices, then the kept hotplugged records (still marked hotplugged), in their order.
    std::vector<Device> devices;
    // One sentence per hotplugged device that was moved to another slot or could not be kept.
    std::vector<std::string> notes;
};

// Merges `previous` (the last qemu's records) into `plan` (the definition of now). A hotplugged
// record keeps its slot when that is still a free hotplug slot; if the definition (changed
// meanwhile) took it, the record gets another free one. A record whose id the definition now
// defines is left out: the definition's device is that device (attach --persist). A record with
// no place left (no free slot, no SCSI controller any more) is left out with a note.
RelaunchLayout relaunchLayout(const SlotPlan& plan, const std::vector<Device>& previous);

}  // namespace corral::hypervisor

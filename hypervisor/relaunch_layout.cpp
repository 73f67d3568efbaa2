#include "hypervisor/relaunch_layout.hpp"

#include <algorithm>

#include "hypervisor/scsi_controller.hpp"
#include "hypervisor/slot_allocator.hpp"

namespace corral::hypervisor {
namespace {

bool defines(const SlotPlan& plan, const std::string& id) {
    return std::any_of(plan.devices.begin(), plan.devices.end(),
                       [&](const Device& d) { return d.id == id; });
}

std::string named(const Device& device) {
    return std::string(device.kindName()) + " " + device.id;
}

// A hotplugged SCSI disk keeps its scsi-id unless another disk has it now.
void placeScsi(Device record, RelaunchLayout& out) {
    if (!std::any_of(out.devices.begin(), out.devices.end(),
                     [](const Device& d) { return d.id == kScsiControllerId; })) {
        out.notes.push_back(named(record) +
                            " is not kept: the definition no longer has a SCSI controller");
        return;
    }
    std::vector<const Device*> used;
    for (const auto& d : out.devices)
        if (d.onScsi()) used.push_back(&d);
    bool taken = std::any_of(used.begin(), used.end(),
                             [&](const Device* d) { return d->slot == record.slot; });
    if (taken) {
        auto scsiId = freeScsiId(used);
        if (!scsiId) {
            out.notes.push_back(named(record) + " is not kept: the SCSI controller is full");
            return;
        }
        record.slot.slot = *scsiId;
        out.notes.push_back(named(record) + " moved to scsi-id " + std::to_string(*scsiId));
    }
    out.devices.push_back(std::move(record));
}

}  // namespace

RelaunchLayout relaunchLayout(const SlotPlan& plan, const std::vector<Device>& previous) {
    RelaunchLayout out;
    out.devices = plan.devices;
    std::vector<Device> pci;
    for (const auto& record : previous) {
        if (!record.hotplugged || defines(plan, record.id)) continue;
        if (record.onScsi())
            placeScsi(record, out);
        else
            pci.push_back(record);
    }
    // Slots the definition left free for hotplug: each record takes its own back if it is one.
    SlotAllocator slots(plan);
    std::vector<OccupiedSlot> recorded;
    for (const auto& record : pci)
        recorded.push_back({record.slot.bus, record.slot.slot, record.id});
    slots.reconcile(recorded);
    for (auto& record : pci) {
        if (auto kept = slots.slotOf(record.id); kept && *kept == record.slot) {
            out.devices.push_back(std::move(record));
            continue;
        }
        slots.release(record.id);  // a clash in `recorded` leaves it the other's slot
        auto moved = slots.allocate(record.id);
        if (!moved) {
            out.notes.push_back(named(record) + " is not kept: " + slots.exhaustedMessage());
            continue;
        }
        out.notes.push_back(named(record) + " moved from " + record.slot.toString() + " to " +
                            moved->toString());
        record.slot = *moved;
        out.devices.push_back(std::move(record));
    }
    return out;
}

}  // namespace corral::hypervisor

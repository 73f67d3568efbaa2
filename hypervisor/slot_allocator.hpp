// Hotplug slot bookkeeping (pure). pc: free slots of pci.0; q35: free pcie-root-ports. QEMU's
// view (query-pci) always wins: reconcile() marks occupied whatever it reports.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "hypervisor/slot_plan.hpp"

namespace corral::hypervisor {

// One device QEMU reports, flattened: bus is "pci.0"/"pcie.0" or the id of the bridge above it.
struct OccupiedSlot {
    std::string bus;
    unsigned slot = 0;
    std::string deviceId;  // qdev id, empty for devices QEMU created itself
};

class SlotAllocator {
  public:
    explicit SlotAllocator(const SlotPlan& plan);

    // A free hotplug slot now owned by `deviceId` (the caller keeps ids unique), or nullopt if
    // all are used (see exhaustedMessage).
    std::optional<PciSlot> allocate(const std::string& deviceId);
    // Frees the slot of `deviceId` (only once QEMU confirmed the unplug).
    void release(const std::string& deviceId);
    // Replaces the bookkeeping with what QEMU reports: occupied slots stay taken (by their qdev
    // id), slots whose device is gone become free.
    void reconcile(const std::vector<OccupiedSlot>& occupied);

    std::optional<PciSlot> slotOf(const std::string& deviceId) const;
    unsigned capacity() const { return static_cast<unsigned>(candidates_.size()); }
    unsigned used() const;
    // "no free hotplug slot: 8 of 8 used; raise machine.hotplug_slots" (q35) or the pc variant.
    std::string exhaustedMessage() const;

  private:
    MachineType machine_;
    std::vector<PciSlot> candidates_;            // every slot hotplug may use, in allocation order
    std::map<std::size_t, std::string> owners_;  // candidate index -> owner ("" = foreign)
};

}  // namespace corral::hypervisor

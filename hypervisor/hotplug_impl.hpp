// Hotplug's state and steps (private to hotplug.cpp and hotplug_recovery.cpp).
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "hypervisor/hotplug.hpp"

namespace corral::hypervisor {

// add-fd opaque of the image fds attachDisk passes: recover() removes fdsets carrying it.
inline constexpr std::string_view kFdsetTag = "corral-hotplug:";

struct Hotplug::Impl {
    Impl(std::shared_ptr<monitor::QmpClient> qmp, const SlotPlan& plan, std::string instanceName);

    bool canHotAddDisk() const;
    bool canHotAddNic() const;
    monitor::awaitable<monitor::Result<std::string>> attachDisk(std::string id,
                                                                std::filesystem::path path,
                                                                DiskOptions options);
    monitor::awaitable<monitor::Result<std::string>> attachNic(std::string id, NicOptions options);
    monitor::awaitable<monitor::Result<void>> detach(std::string id,
                                                     std::chrono::milliseconds timeout);
    monitor::awaitable<monitor::Result<std::vector<OccupiedSlot>>> reconcile();
    monitor::awaitable<monitor::Result<Recovery>> recover();
    void restore(const std::vector<HotpluggedDevice>& devices);
    std::vector<HotpluggedDevice> devices() const;

    monitor::Result<PciSlot> reserve(const std::string& id);
    monitor::awaitable<monitor::Result<std::vector<OccupiedSlot>>> devicesOnPorts();
    // Deletes what attachDisk/attachNic added besides the device (rollback and after unplug).
    monitor::awaitable<void> removeDiskNodes(std::string id, bool format, bool file);
    monitor::awaitable<void> removeNicBackend(std::string id, bool netdev, bool fd);
    // Whether `id` is a boot-time device, a recorded device or one with an operation in flight.
    bool owns(const std::string& id) const;
    // recover() steps: QEMU's hotplugged devices, then the orphans of each backend kind.
    monitor::awaitable<monitor::Result<std::map<std::string, std::string>>> peripheralDevices();
    monitor::awaitable<void> removeOrphanNodes(Recovery& recovery);
    monitor::awaitable<void> removeOrphanNetdevs(Recovery& recovery);
    monitor::awaitable<void> removeTaggedFdsets(Recovery& recovery);

    std::shared_ptr<monitor::QmpClient> qmp_;
    SlotPlan plan_;
    std::string instanceName_;
    SlotAllocator slots_;
    std::set<std::string> busy_;  // ids with an attach or detach in flight
    std::map<std::string, HotpluggedDevice> devices_;
};

}  // namespace corral::hypervisor

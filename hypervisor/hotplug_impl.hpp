// Hotplug's state and steps (private to hotplug.cpp and hotplug_recovery.cpp).
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "hypervisor/hotplug.hpp"

namespace corral::hypervisor {

struct Hotplug::Impl {
    Impl(std::shared_ptr<monitor::QmpClient> qmp, const SlotPlan& plan, std::string instanceName);

    bool canHotAdd(const DeviceKind& kind) const;
    monitor::awaitable<monitor::Result<Device>> attach(Device device);
    monitor::awaitable<monitor::Result<void>> detach(std::string id,
                                                     std::chrono::milliseconds timeout);
    monitor::awaitable<monitor::Result<std::vector<OccupiedSlot>>> reconcile();
    monitor::awaitable<monitor::Result<Recovery>> recover();
    void restore(const std::vector<Device>& devices);
    std::vector<Device> devices() const;

    // The device's options checked against its kind's schema and completed (InvalidArgument).
    monitor::Result<void> complete(Device& device) const;
    // A free place for `device` (its id checked and unused): a hotplug slot, or a scsi-id on
    // the boot-time SCSI controller (hotplug_scsi.cpp).
    monitor::Result<PciSlot> reserve(const Device& device);
    monitor::Result<PciSlot> reserveScsi(const Device& device);
    monitor::awaitable<monitor::Result<std::vector<OccupiedSlot>>> devicesOnPorts();
    // Whether `id` is a boot-time device, a recorded device or one with an operation in flight.
    bool owns(const std::string& id) const;
    // recover(): QEMU's devices of hotpluggable kinds outside the boot plan, by id.
    monitor::awaitable<monitor::Result<std::map<std::string, const DeviceKind*>>>
    peripheralDevices();

    std::shared_ptr<monitor::QmpClient> qmp_;
    SlotPlan plan_;
    std::string instanceName_;
    SlotAllocator slots_;
    std::set<std::string> busy_;  // ids with an attach or detach in flight
    std::map<std::string, Device> devices_;
    std::map<std::string, Device> scsiPending_;  // SCSI disks being attached, at their scsi-id
};

}  // namespace corral::hypervisor

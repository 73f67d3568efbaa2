// Hotplug of any hotpluggable device kind on top of QmpClient, with the slot bookkeeping of
// SlotAllocator; the kind's row (device.hpp) says what its device and backend need. Each attach
// either completes or rolls back everything it added; each detach frees the slot only once QEMU
// reported DEVICE_DELETED for the device. If the daemon dies in between, the next one's
// recover() settles what was left half-done.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hypervisor/instance_spec.hpp"
#include "hypervisor/slot_allocator.hpp"
#include "monitor/qmp_client.hpp"

namespace corral::hypervisor {

// What recover() changed to make the bookkeeping match QEMU after an interrupted hotplug.
struct Recovery {
    std::vector<std::string> adopted;  // complete devices QEMU has that nobody recorded
    std::vector<std::string> dropped;  // recorded devices QEMU no longer has
    std::vector<std::string> removed;  // leftover block nodes, fdsets, netdevs, objects deleted

    bool changedDevices() const { return !adopted.empty() || !dropped.empty(); }
};

// Devices QEMU reports in query-pci, flattened: devices on bus 0 get `rootBus` ("pci.0" or
// "pcie.0"), devices behind a bridge get the bridge's qdev id as their bus.
std::vector<OccupiedSlot> flattenQueryPci(const rapidjson::Value& queryPciReturn,
                                          const std::string& rootBus);

class Hotplug {
  public:
    Hotplug(std::shared_ptr<monitor::QmpClient> qmp, const SlotPlan& plan,
            std::string instanceName);

    // Whether this qemu has the QMP commands a hotplug of `kind` needs (from query-commands; the
    // CheckDiskHotAddSupport/CheckNicHotAddSupport of Ganeti).
    bool canHotAdd(const DeviceKind& kind) const;

    // Adds `device` (id, kind and options; the kind's defaults and derived values are filled
    // in) at a free hotplug slot: the backend's steps around device_add with bus/addr. Returns
    // the device as recorded, with its slot and backend.
    monitor::awaitable<monitor::Result<Device>> attach(Device device);

    // device_del, wait (bounded) for DEVICE_DELETED of `id`, then drop its backend and slot.
    monitor::awaitable<monitor::Result<void>> detach(
        std::string id, std::chrono::milliseconds timeout = std::chrono::seconds(30));

    // query-pci (+ QOM for root-port children) -> SlotAllocator::reconcile; returns what QEMU
    // reported.
    monitor::awaitable<monitor::Result<std::vector<OccupiedSlot>>> reconcile();

    // After a reattach: devices hotplugged by the previous corrald (from state.json).
    void restore(const std::vector<Device>& devices);

    // After restore() and reconcile(), for a corrald killed mid-hotplug: adopts devices of a
    // hotpluggable kind that QEMU has in a hotplug slot but nobody recorded, drops recorded ones
    // it no longer has, and lets each backend delete what carries its naming but no device
    // uses, so the same id can be attached again.
    monitor::awaitable<monitor::Result<Recovery>> recover();

    // The hotplugged devices, in id order.
    std::vector<Device> devices() const;
    const SlotAllocator& slots() const;

  private:
    // Every coroutine holds the state it works on: destroying the Hotplug (its qemu exited)
    // while an attach or detach is suspended frees nothing the coroutine resumes into.
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace corral::hypervisor

// Disk and NIC hotplug on top of QmpClient, with the slot bookkeeping of SlotAllocator.
// Each attach either completes or rolls back everything it added; each detach frees the slot
// only once QEMU reported DEVICE_DELETED for the device. If the daemon dies in between, the next
// one's recover() settles what was left half-done.
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

struct DiskOptions {
    DiskFormat format = DiskFormat::Raw;
    bool readonly = false;
    DiskCache cache = DiskCache::Writeback;
};

struct NicOptions {
    NicMode mode = NicMode::User;
    std::string bridge;  // mode Bridge
    std::string ifname;  // tap name; empty: the kernel picks one
    std::string mac;     // empty: derived from instance name and id
};

struct HotpluggedDevice {
    std::string id;
    std::string kind;  // "disk" | "nic"
    PciSlot slot;
    std::string path;  // disk image or tap interface name
};

// What recover() changed to make the bookkeeping match QEMU after an interrupted hotplug.
struct Recovery {
    std::vector<std::string> adopted;  // complete devices QEMU has that nobody recorded
    std::vector<std::string> dropped;  // recorded devices QEMU no longer has
    std::vector<std::string> removed;  // leftover block nodes, netdevs and fdsets deleted

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

    // The CheckDiskHotAddSupport/CheckNicHotAddSupport of Ganeti: from query-commands.
    bool canHotAddDisk() const;
    bool canHotAddNic() const;

    // Opens `path` here (O_CLOEXEC), add-fd, blockdev-add file+format nodes, device_add with
    // bus/addr, remove-fd. Returns the PCI address (PciSlot::toString()).
    monitor::awaitable<monitor::Result<std::string>> attachDisk(std::string id,
                                                                std::filesystem::path path,
                                                                DiskOptions options);

    // tap/bridge: open a tap, getfd, netdev_add, device_add; user: netdev_add user. Returns the
    // PCI address.
    monitor::awaitable<monitor::Result<std::string>> attachNic(std::string id, NicOptions options);

    // device_del, wait (bounded) for DEVICE_DELETED of `id`, then drop its backend and slot.
    monitor::awaitable<monitor::Result<void>> detach(
        std::string id, std::chrono::milliseconds timeout = std::chrono::seconds(30));

    // query-pci (+ QOM for root-port children) -> SlotAllocator::reconcile; returns what QEMU
    // reported.
    monitor::awaitable<monitor::Result<std::vector<OccupiedSlot>>> reconcile();

    // After a reattach: devices hotplugged by the previous corrald (from state.json).
    void restore(const std::vector<HotpluggedDevice>& devices);

    // After restore() and reconcile(), for a corrald killed mid-hotplug: adopts virtio-blk/net
    // devices QEMU has that were not recorded, drops recorded ones it no longer has, and deletes
    // backends with our naming that no device uses (block nodes <id>-format/<id>-file, netdevs
    // <id>-netdev, fdsets tagged by attachDisk), so the same id can be attached again.
    monitor::awaitable<monitor::Result<Recovery>> recover();

    std::vector<HotpluggedDevice> devices() const;
    const SlotAllocator& slots() const;

  private:
    // Every coroutine holds the state it works on: destroying the Hotplug (its qemu exited)
    // while an attach or detach is suspended frees nothing the coroutine resumes into.
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace corral::hypervisor

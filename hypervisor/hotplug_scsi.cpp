// Hotplug of a disk on the SCSI bus: it takes a scsi-id on the controller created at boot, not a
// PCI slot. Without that controller (no boot-time disk had bus "scsi") the attach is refused:
// adding a controller to a running VM would take a PCI hotplug slot for corral's own plumbing.
#include "hypervisor/hotplug_impl.hpp"
#include "hypervisor/scsi_controller.hpp"

namespace corral::hypervisor {

using monitor::makeError;
using monitor::Result;

Result<PciSlot> Hotplug::Impl::reserveScsi(const Device& device) {
    const Device* controller = nullptr;
    for (const auto& planned : plan_.devices)
        if (planned.id == kScsiControllerId) controller = &planned;
    if (!controller) {
        return makeError(Errc::NotSupported, device.id,
                         "this VM has no SCSI controller: corral creates it at boot when a disk "
                         "of the definition has bus \"scsi\"; attach with bus \"virtio\" or add "
                         "a SCSI disk to the definition and restart the VM");
    }
    if (device.flag("iothread") && !controller->flag("iothread")) {
        return makeError(Errc::NotSupported, device.id,
                         "SCSI disks share the controller's iothread, and this VM's controller "
                         "was started without one (no boot-time SCSI disk has iothread = true)");
    }
    std::vector<const Device*> used;
    for (const auto& planned : plan_.devices) used.push_back(&planned);
    for (const auto& [id, attached] : devices_) used.push_back(&attached);
    for (const auto& [id, pending] : scsiPending_) used.push_back(&pending);
    auto scsiId = freeScsiId(used);
    if (!scsiId) {
        return makeError(
            Errc::NoFreeSlot, device.id,
            "the SCSI controller has no free scsi-id (" + std::to_string(kMaxScsiIds) + " used)");
    }
    PciSlot slot{std::string(kScsiBus), *scsiId};
    Device pending = device;
    pending.slot = slot;
    scsiPending_[device.id] = std::move(pending);
    busy_.insert(device.id);
    return slot;
}

}  // namespace corral::hypervisor

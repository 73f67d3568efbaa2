// Growing a disk of a running VM: QMP block_resize on the disk's format node "<id>-format"
// (block_nodes.hpp), which grows the image itself (a raw file's length, a qcow2 image's virtual
// size). The image is the only record of the size: a reattach, a reboot or a migration reopens
// it and finds the new size, so nothing else is written. The guest learns of it from its device
// model: virtio-blk signals a configuration change at once, a SCSI disk after a rescan, an IDE /
// SATA disk only after a reboot.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "hypervisor/device.hpp"
#include "monitor/qmp_client.hpp"

namespace corral::hypervisor {

// QEMU's block layer counts in 512-byte sectors: a size that is not a multiple is refused.
inline constexpr std::uint64_t kDiskSectorBytes = 512;

// Why `device` cannot be resized at all (a CD-ROM, a NIC, a read-only disk), or nullopt.
std::optional<std::string> resizeRefusal(const Device& device);

// Why growing from `current` to `bytes` is refused (a shrink; the same size), or nullopt.
struct SizeRefusal {
    bool alreadyThere = false;  // `bytes` is the size it has: the goal is already reached
    std::string reason;
};
std::optional<SizeRefusal> sizeRefusal(std::string_view id, std::uint64_t current,
                                       std::uint64_t bytes);

// The virtual size in bytes of the image under disk `id` (query-named-block-nodes).
monitor::awaitable<monitor::Result<std::uint64_t>> diskSize(monitor::QmpClient& qmp,
                                                            std::string id);

// Whether QEMU is migrating the VM away (query-migrate: setup, active, ...): a disk changed then
// would not match what the destination was told.
monitor::awaitable<monitor::Result<bool>> migrating(monitor::QmpClient& qmp);

// block_resize of disk `id` to `bytes`.
monitor::awaitable<monitor::Result<void>> growDisk(monitor::QmpClient& qmp, std::string id,
                                                   std::uint64_t bytes);

}  // namespace corral::hypervisor

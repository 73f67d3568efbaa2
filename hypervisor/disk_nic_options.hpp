// The values of the disk and NIC options that choose how QEMU presents and drives them: a
// disk's bus, discard and AIO mode, a NIC's model. One spelling each, as TOML, D-Bus and
// corralctl take them.
#pragma once

#include <string>
#include <string_view>

#include "common/string_table.hpp"

namespace corral::hypervisor {

enum class DiskBus { Virtio, Scsi, Sata };
enum class DiskDiscard { Ignore, Unmap };
enum class DiskAio { Threads, Native, IoUring };
enum class NicModel { Virtio, E1000e };

inline constexpr auto kDiskBuses = makeStringTable<DiskBus>(
    {{DiskBus::Virtio, "virtio"}, {DiskBus::Scsi, "scsi"}, {DiskBus::Sata, "sata"}});
inline constexpr auto kDiskDiscards =
    makeStringTable<DiskDiscard>({{DiskDiscard::Ignore, "ignore"}, {DiskDiscard::Unmap, "unmap"}});
inline constexpr auto kDiskAios = makeStringTable<DiskAio>(
    {{DiskAio::Threads, "threads"}, {DiskAio::Native, "native"}, {DiskAio::IoUring, "io_uring"}});
inline constexpr auto kNicModels =
    makeStringTable<NicModel>({{NicModel::Virtio, "virtio"}, {NicModel::E1000e, "e1000e"}});

// The id of the iothread a disk's block layer runs in (iothread = true; on the SCSI bus, the
// controller's: "corral-scsi-iothread").
inline std::string iothreadOf(std::string_view deviceId) {
    return std::string(deviceId) + "-iothread";
}

}  // namespace corral::hypervisor

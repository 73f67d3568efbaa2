// A disk's block nodes as pure data: the protocol node "<id>-file" (QEMU's `file` driver on an
// image, `host_device` on a block device) with its cache, AIO and discard settings, the format
// node "<id>-format" on top, and the iothread the disk runs in. The same settings go into the
// boot argv (-blockdev) and into blockdev-add at hotplug, so both are built here.
#pragma once

#include <sys/types.h>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hypervisor/device.hpp"
#include "monitor/json.hpp"

namespace corral::hypervisor {

std::string fileNodeOf(std::string_view id);
std::string formatNodeOf(std::string_view id);

// What a disk path is, from its st_mode: a block device, a regular file, or something no disk
// can use (nullopt, with `why`: "is a character device", "is a directory", ...).
enum class DiskTarget { File, BlockDevice };
std::optional<DiskTarget> diskTarget(mode_t mode, std::string& why);
// The same for a path (stat) or an open fd (fstat); `why` also covers "cannot be examined".
std::optional<DiskTarget> diskTargetOf(const std::string& path, std::string& why);
std::optional<DiskTarget> diskTargetOf(int fd, std::string& why);

// The backing file the qcow2 header of the image open at `fd` names, "" when it names none or
// the image is no qcow2 (its magic is not QFI\xfb).
std::string qcow2BackingFile(int fd);

// QEMU's protocol driver for the target: "file" or "host_device".
std::string_view protocolDriver(DiskTarget target);

// Boot: "-object iothread,..." (virtio disks with iothread = true) and the two -blockdev
// arguments of `disk` on `target`.
void addBlockArgs(const Device& disk, DiskTarget target, std::vector<std::string>& argv);

// Hotplug: the blockdev-add arguments of the protocol node on `filename` (/dev/fdset/N) and of
// the format node.
monitor::Json fileNodeArgs(const Device& disk, DiskTarget target, const std::string& filename);
monitor::Json formatNodeArgs(const Device& disk);

// The iothread a virtio disk of the definition runs in, "" for none (iothread = false, or a
// SCSI disk, which runs in its controller's).
std::string ownIothread(const Device& disk);

}  // namespace corral::hypervisor

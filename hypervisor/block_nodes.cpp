#include "hypervisor/block_nodes.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdint>

#include "hypervisor/disk_nic_options.hpp"
#include "hypervisor/instance_spec.hpp"
#include "hypervisor/qemu_argv.hpp"

namespace corral::hypervisor {

namespace {

DiskCache cacheOf(const Device& disk) {
    return kDiskCaches.fromString(disk.text("cache")).value_or(DiskCache::Writeback);
}

bool unmaps(const Device& disk) {
    return disk.text("discard") == kDiskDiscards.toString(DiskDiscard::Unmap);
}

// "" for QEMU's default (threads), which the argv leaves out as it always did.
std::string_view aioOf(const Device& disk) {
    auto aio = disk.text("aio");
    return aio == kDiskAios.toString(DiskAio::Threads) ? std::string_view() : aio;
}

}  // namespace

std::string fileNodeOf(std::string_view id) {
    return std::string(id) + "-file";
}

std::string formatNodeOf(std::string_view id) {
    return std::string(id) + "-format";
}

std::optional<DiskTarget> diskTarget(mode_t mode, std::string& why) {
    switch (mode & S_IFMT) {
        case S_IFREG:
            return DiskTarget::File;
        case S_IFBLK:
            return DiskTarget::BlockDevice;
        case S_IFCHR:
            why = "is a character device, not a disk image or block device";
            return std::nullopt;
        case S_IFDIR:
            why = "is a directory";
            return std::nullopt;
        default:
            why = "is neither a regular file nor a block device";
            return std::nullopt;
    }
}

std::optional<DiskTarget> diskTargetOf(const std::string& path, std::string& why) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        why = "cannot be examined";
        return std::nullopt;
    }
    return diskTarget(st.st_mode, why);
}

std::optional<DiskTarget> diskTargetOf(int fd, std::string& why) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        why = "cannot be examined";
        return std::nullopt;
    }
    return diskTarget(st.st_mode, why);
}

std::string qcow2BackingFile(int fd) {
    // The header: magic (4 bytes), version (4), backing_file_offset (8), backing_file_size (4),
    // big-endian.
    std::array<unsigned char, 20> header{};
    if (::pread(fd, header.data(), header.size(), 0) != static_cast<ssize_t>(header.size()))
        return "";
    auto number = [&header](std::size_t at, std::size_t bytes) {
        std::uint64_t value = 0;
        for (std::size_t k = 0; k < bytes; ++k) value = value << 8 | header[at + k];
        return value;
    };
    if (number(0, 4) != 0x514649fbu) return "";
    auto offset = number(8, 8);
    auto size = number(16, 4);
    if (offset == 0 || size == 0 || size > 1023) return "";  // QEMU's limit on the name
    std::string name(size, '\0');
    auto got = ::pread(fd, name.data(), size, static_cast<off_t>(offset));
    return got == static_cast<ssize_t>(size) ? name : "";
}

std::string_view protocolDriver(DiskTarget target) {
    return target == DiskTarget::BlockDevice ? "host_device" : "file";
}

std::string ownIothread(const Device& disk) {
    return disk.flag("iothread") && !disk.onScsi() ? iothreadOf(disk.id) : std::string();
}

void addBlockArgs(const Device& disk, DiskTarget target, std::vector<std::string>& argv) {
    if (auto iothread = ownIothread(disk); !iothread.empty())
        argv.insert(argv.end(), {"-object", "iothread,id=" + iothread});
    std::string readOnly = disk.flag("readonly") ? "on" : "off";
    auto cache = cacheOf(disk);
    std::string file = "driver=" + std::string(protocolDriver(target)) +
                       ",node-name=" + fileNodeOf(disk.id) +
                       ",filename=" + escapeOption(disk.text("path")) + ",read-only=" + readOnly;
    if (cache == DiskCache::None) file += ",cache.direct=on";
    if (cache == DiskCache::Unsafe) file += ",cache.no-flush=on";
    if (auto aio = aioOf(disk); !aio.empty()) file += ",aio=" + std::string(aio);
    std::string discard = unmaps(disk) ? ",discard=unmap" : "";
    argv.insert(argv.end(), {"-blockdev", file + discard, "-blockdev",
                             "driver=" + std::string(disk.text("format")) + ",node-name=" +
                                 formatNodeOf(disk.id) + ",file=" + fileNodeOf(disk.id) +
                                 ",read-only=" + readOnly + discard});
}

monitor::Json fileNodeArgs(const Device& disk, DiskTarget target, const std::string& filename) {
    auto cache = cacheOf(disk);
    monitor::JsonObject cacheFlags;
    cacheFlags.set("direct", cache == DiskCache::None).set("no-flush", cache == DiskCache::Unsafe);
    monitor::JsonObject node;
    node.set("driver", protocolDriver(target))
        .set("node-name", fileNodeOf(disk.id))
        .set("filename", filename)
        .set("read-only", disk.flag("readonly"))
        .set("cache", cacheFlags);
    if (auto aio = aioOf(disk); !aio.empty()) node.set("aio", aio);
    if (unmaps(disk)) node.set("discard", "unmap");
    return node.take();
}

monitor::Json formatNodeArgs(const Device& disk) {
    monitor::JsonObject node;
    node.set("driver", disk.text("format"))
        .set("node-name", formatNodeOf(disk.id))
        .set("file", fileNodeOf(disk.id))
        .set("read-only", disk.flag("readonly"));
    if (unmaps(disk)) node.set("discard", "unmap");
    return node.take();
}

}  // namespace corral::hypervisor

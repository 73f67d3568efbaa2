// A disk's backend: a file block node on the image and a format node on top, "<id>-file" and
// "<id>-format". At hotplug corrald opens the image itself and passes the fd (add-fd), so qemu
// needs no access to the path.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "hypervisor/device_backend.hpp"
#include "hypervisor/instance_spec.hpp"
#include "hypervisor/qemu_argv.hpp"

namespace corral::hypervisor {

using monitor::awaitable;
using monitor::JsonObject;
using monitor::makeError;
using monitor::Result;

namespace {

constexpr std::string_view kFileSuffix = "-file";
constexpr std::string_view kFormatSuffix = "-format";

std::string fileNode(std::string_view id) {
    return std::string(id) + std::string(kFileSuffix);
}
std::string formatNode(std::string_view id) {
    return std::string(id) + std::string(kFormatSuffix);
}

DiskCache cacheOf(const Device& disk) {
    return kDiskCaches.fromString(disk.text("cache")).value_or(DiskCache::Writeback);
}

// Closes an fd we opened once it has been handed to QEMU (or the attach failed).
struct OwnedFd {
    int fd = -1;
    ~OwnedFd() {
        if (fd >= 0) ::close(fd);
    }
};

// add-fd with an opaque tag naming the device, so an fdset left by an interrupted attach can be
// told apart from anyone else's.
awaitable<Result<int>> addTaggedFd(monitor::QmpClient& qmp, int fd, const std::string& id) {
    std::vector<int> fds(1, fd);
    auto reply = co_await qmp.execute(
        "add-fd", JsonObject().set("opaque", std::string(kFdsetTag) + id).take(),
        monitor::kDefaultCommandTimeout, std::move(fds));
    if (!reply) co_return reply.error();
    if (!reply->IsObject() || !reply->HasMember("fdset-id") || !(*reply)["fdset-id"].IsInt()) {
        co_return makeError(Errc::Protocol, "add-fd",
                            "reply lacks fdset-id: " + monitor::toJsonString(*reply));
    }
    co_return (*reply)["fdset-id"].GetInt();
}

awaitable<void> deleteNode(monitor::QmpClient& qmp, std::string name) {
    co_await qmp.execute("blockdev-del", JsonObject().set("node-name", name).take());
}

class BlockBackend final : public DeviceBackend {
  public:
    std::vector<std::string_view> hotplugCommands() const override {
        return {"blockdev-add", "add-fd", "remove-fd"};
    }

    void bootArgs(const Device& disk, int&, std::vector<std::string>& argv) const override {
        std::string readOnly = disk.flag("readonly") ? "on" : "off";
        auto cache = cacheOf(disk);
        std::string cacheFlags = cache == DiskCache::None     ? ",cache.direct=on"
                                 : cache == DiskCache::Unsafe ? ",cache.no-flush=on"
                                                              : "";
        argv.insert(argv.end(), {"-blockdev",
                                 "driver=file,node-name=" + fileNode(disk.id) +
                                     ",filename=" + escapeOption(disk.text("path")) +
                                     ",read-only=" + readOnly + cacheFlags,
                                 "-blockdev",
                                 "driver=" + std::string(disk.text("format")) +
                                     ",node-name=" + formatNode(disk.id) +
                                     ",file=" + fileNode(disk.id) + ",read-only=" + readOnly});
    }

    Properties deviceLinks(const Device& disk) const override {
        return {{"drive", formatNode(disk.id)}};
    }

    // Opens the image here (O_CLOEXEC), add-fd, blockdev-add file and format nodes, device_add,
    // remove-fd.
    awaitable<Result<void>> attach(monitor::QmpClient& qmp, Device& disk,
                                   const PlugDevice& plug) const override {
        std::string path(disk.text("path"));
        bool readonly = disk.flag("readonly");
        OwnedFd image{::open(path.c_str(), (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC)};
        if (image.fd < 0) {
            co_return makeError(Errc::OpenFailed, disk.id,
                                "cannot open " + path + ": " + std::strerror(errno));
        }
        auto fdset = co_await addTaggedFd(qmp, image.fd, disk.id);
        ::close(std::exchange(image.fd, -1));
        if (!fdset) co_return fdset.error();
        auto cache = cacheOf(disk);
        JsonObject cacheFlags;
        cacheFlags.set("direct", cache == DiskCache::None)
            .set("no-flush", cache == DiskCache::Unsafe);
        // Each step runs only if all before it worked; `failure` keeps the first error.
        std::optional<monitor::Error> failure;
        bool fileAdded = false;
        bool formatAdded = false;
        auto file = co_await qmp.execute(
            "blockdev-add", JsonObject()
                                .set("driver", "file")
                                .set("node-name", fileNode(disk.id))
                                .set("filename", "/dev/fdset/" + std::to_string(*fdset))
                                .set("read-only", readonly)
                                .set("cache", cacheFlags)
                                .take());
        if (file) {
            fileAdded = true;
        } else {
            failure = file.error();
        }
        if (!failure) {
            auto format =
                co_await qmp.execute("blockdev-add", JsonObject()
                                                         .set("driver", disk.text("format"))
                                                         .set("node-name", formatNode(disk.id))
                                                         .set("file", fileNode(disk.id))
                                                         .set("read-only", readonly)
                                                         .take());
            if (format) {
                formatAdded = true;
            } else {
                failure = format.error();
            }
        }
        if (!failure) {
            auto plugged = co_await plug();
            if (!plugged) failure = plugged.error();
        }
        // QEMU holds its own dup of the image fd now (or nothing, on failure): drop the fdset.
        co_await qmp.removeFd(*fdset);
        if (failure) {
            if (formatAdded) co_await deleteNode(qmp, formatNode(disk.id));
            if (fileAdded) co_await deleteNode(qmp, fileNode(disk.id));
            co_return *failure;
        }
        disk.backend = path;
        co_return Result<void>();
    }

    awaitable<void> remove(monitor::QmpClient& qmp, const Device& disk) const override {
        co_await deleteNode(qmp, formatNode(disk.id));
        co_await deleteNode(qmp, fileNode(disk.id));
    }

    // Block nodes "<id>-format" / "<id>-file" and fdsets tagged kFdsetTag that no device uses.
    awaitable<void> removeOrphans(monitor::QmpClient& qmp, const Owned& owned,
                                  std::vector<std::string>& removed) const override {
        co_await removeOrphanNodes(qmp, owned, removed);
        co_await removeTaggedFdsets(qmp, removed);
    }

  private:
    static awaitable<void> removeOrphanNodes(monitor::QmpClient& qmp, const Owned& owned,
                                             std::vector<std::string>& removed) {
        auto nodes =
            co_await qmp.execute("query-named-block-nodes", JsonObject().set("flat", true).take());
        if (!nodes || !nodes->IsArray()) co_return;
        // Format nodes first: a file node cannot go while its format node still uses it.
        std::vector<std::string> orphans;
        for (auto suffix : {kFormatSuffix, kFileSuffix}) {
            for (const auto& node : nodes->GetArray()) {
                std::string name = stringMember(node, "node-name");
                std::string id = idBefore(name, suffix);
                if (!id.empty() && !owned(id)) orphans.push_back(name);
            }
        }
        // QEMU refuses to delete a node in use, so nothing a device holds can go here.
        co_await deleteEach(qmp, "blockdev-del", "node-name", "block node", std::move(orphans),
                            removed);
    }

    static awaitable<void> removeTaggedFdsets(monitor::QmpClient& qmp,
                                              std::vector<std::string>& removed) {
        auto fdsets = co_await qmp.execute("query-fdsets");
        if (!fdsets || !fdsets->IsArray()) co_return;
        std::vector<int> tagged;
        for (const auto& fdset : fdsets->GetArray()) {
            if (!fdset.IsObject() || !fdset.HasMember("fdset-id") || !fdset["fdset-id"].IsInt() ||
                !fdset.HasMember("fds") || !fdset["fds"].IsArray()) {
                continue;
            }
            for (const auto& fd : fdset["fds"].GetArray()) {
                if (stringMember(fd, "opaque").starts_with(kFdsetTag)) {
                    tagged.push_back(fdset["fdset-id"].GetInt());
                    break;
                }
            }
        }
        // A block node that already uses the image keeps its own dup: removing the set is safe.
        for (int id : tagged) {
            auto gone = co_await qmp.removeFd(id);
            if (gone) removed.push_back("fdset " + std::to_string(id));
        }
    }
};

}  // namespace

const DeviceBackend& blockBackend() {
    static const BlockBackend backend;
    return backend;
}

}  // namespace corral::hypervisor

// A disk's backend: a protocol block node on the image or block device and a format node on
// top, "<id>-file" and "<id>-format" (block_nodes.hpp), and for a virtio disk with iothread =
// true its iothread "<id>-iothread". At hotplug corrald opens the image itself and passes the fd
// (add-fd), so qemu needs no access to the path.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "hypervisor/block_nodes.hpp"
#include "hypervisor/device_backend.hpp"
#include "hypervisor/disk_nic_options.hpp"

namespace corral::hypervisor {

using monitor::awaitable;
using monitor::JsonObject;
using monitor::makeError;
using monitor::Result;

namespace {

constexpr std::string_view kFileSuffix = "-file";
constexpr std::string_view kFormatSuffix = "-format";
constexpr std::string_view kIothreadSuffix = "-iothread";

// Closes an fd we opened once it has been handed to QEMU (or the attach failed).
struct OwnedFd {
    int fd = -1;
    ~OwnedFd() {
        if (fd >= 0) ::close(fd);
    }
};

awaitable<void> deleteNode(monitor::QmpClient& qmp, std::string name) {
    co_await qmp.execute("blockdev-del", JsonObject().set("node-name", name).take());
}

awaitable<void> deleteObject(monitor::QmpClient& qmp, std::string id) {
    co_await qmp.execute("object-del", JsonObject().set("id", id).take());
}

class BlockBackend final : public DeviceBackend {
  public:
    std::vector<std::string_view> hotplugCommands() const override {
        return {"blockdev-add", "add-fd", "remove-fd"};
    }

    // The driver follows what the path is at launch: host_device on a block device. A path
    // that cannot be examined is left to qemu, which names it in its error.
    void bootArgs(const Device& disk, int&, std::vector<std::string>& argv) const override {
        std::string path(disk.text("path"));
        std::string why;
        auto target = diskTargetOf(path, why);
        if (!target && why != "cannot be examined")
            throw std::runtime_error("disk " + disk.id + ": " + path + " " + why);
        addBlockArgs(disk, target.value_or(DiskTarget::File), argv);
    }

    Properties deviceLinks(const Device& disk) const override {
        Properties links = {{"drive", formatNodeOf(disk.id)}};
        if (auto iothread = ownIothread(disk); !iothread.empty())
            links.emplace_back("iothread", iothread);
        return links;
    }

    // Opens the image here (O_CLOEXEC), add-fd, object-add of its iothread, blockdev-add of the
    // protocol and format nodes, device_add, remove-fd.
    awaitable<Result<void>> attach(monitor::QmpClient& qmp, Device& disk,
                                   const PlugDevice& plug) const override {
        std::string path(disk.text("path"));
        bool readonly = disk.flag("readonly");
        OwnedFd image{::open(path.c_str(), (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC)};
        if (image.fd < 0) {
            co_return makeError(Errc::OpenFailed, disk.id,
                                "cannot open " + path + ": " + std::strerror(errno));
        }
        std::string why;
        auto target = diskTargetOf(image.fd, why);
        if (!target) co_return makeError(Errc::InvalidArgument, disk.id, path + " " + why);
        // QEMU would open the backing file by its path, which a confined qemu cannot (its root is
        // empty), and which corrald does not hand over layer by layer.
        if (disk.text("format") == "qcow2")
            if (auto backing = qcow2BackingFile(image.fd); !backing.empty())
                co_return makeError(Errc::InvalidArgument, disk.id,
                                    path + " has a backing file (" + backing +
                                        "); a hotplugged disk must be a standalone image: "
                                        "flatten it (qemu-img convert -O qcow2) or give the "
                                        "disk in the definition, where qemu opens its backing "
                                        "chain at start");
        auto fdset = co_await addTaggedFd(qmp, image.fd, disk.id);
        ::close(std::exchange(image.fd, -1));
        if (!fdset) co_return fdset.error();
        // Each step runs only if all before it worked; `failure` keeps the first error and
        // `added` what is to be deleted again, last first.
        std::optional<monitor::Error> failure;
        std::vector<std::pair<std::string, std::string>> added;  // command, argument
        auto step = [&](std::string command, monitor::Json args, std::string undo,
                        std::string key) -> awaitable<void> {
            if (failure) co_return;
            auto done = co_await qmp.execute(command, std::move(args));
            if (done)
                added.emplace_back(std::move(undo), std::move(key));
            else
                failure = done.error();
        };
        if (auto iothread = ownIothread(disk); !iothread.empty()) {
            co_await step("object-add",
                          JsonObject().set("qom-type", "iothread").set("id", iothread).take(),
                          "object-del", iothread);
        }
        co_await step("blockdev-add",
                      fileNodeArgs(disk, *target, "/dev/fdset/" + std::to_string(*fdset)),
                      "blockdev-del", fileNodeOf(disk.id));
        co_await step("blockdev-add", formatNodeArgs(disk), "blockdev-del", formatNodeOf(disk.id));
        if (!failure) {
            auto plugged = co_await plug();
            if (!plugged) failure = plugged.error();
        }
        // QEMU holds its own dup of the image fd now (or nothing, on failure): drop the fdset.
        co_await qmp.removeFd(*fdset);
        if (failure) {
            for (auto it = added.rbegin(); it != added.rend(); ++it) {
                if (it->first == "object-del")
                    co_await deleteObject(qmp, it->second);
                else
                    co_await deleteNode(qmp, it->second);
            }
            co_return *failure;
        }
        disk.backend = path;
        co_return Result<void>();
    }

    awaitable<void> remove(monitor::QmpClient& qmp, const Device& disk) const override {
        co_await deleteNode(qmp, formatNodeOf(disk.id));
        co_await deleteNode(qmp, fileNodeOf(disk.id));
        if (auto iothread = ownIothread(disk); !iothread.empty())
            co_await deleteObject(qmp, iothread);
    }

    // Block nodes "<id>-format" / "<id>-file", iothreads "<id>-iothread" and fdsets tagged
    // kFdsetTag that no device uses.
    awaitable<void> removeOrphans(monitor::QmpClient& qmp, const Owned& owned,
                                  std::vector<std::string>& removed) const override {
        co_await removeOrphanNodes(qmp, owned, removed);
        co_await removeOrphanIothreads(qmp, owned, removed);
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

    static awaitable<void> removeOrphanIothreads(monitor::QmpClient& qmp, const Owned& owned,
                                                 std::vector<std::string>& removed) {
        auto children =
            co_await qmp.execute("qom-list", JsonObject().set("path", "/objects").take());
        if (!children || !children->IsArray()) co_return;
        std::vector<std::string> orphans;
        for (const auto& child : children->GetArray()) {
            std::string name = stringMember(child, "name");
            std::string id = idBefore(name, kIothreadSuffix);
            if (stringMember(child, "type") == "child<iothread>" && !id.empty() && !owned(id))
                orphans.push_back(name);
        }
        co_await deleteEach(qmp, "object-del", "id", "object", std::move(orphans), removed);
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

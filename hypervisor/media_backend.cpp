// A CD-ROM's backend: at boot a read-only file block node "<id>-medium" on the ISO, or nothing
// for an empty drive. Changing the medium of a running VM opens the tray (forced: a guest that
// mounted the disc has locked it), takes the medium out, deletes its node, and for a new ISO adds
// a node on an fd corrald opened (add-fd, like a disk hotplug) and inserts it.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "hypervisor/device_backend.hpp"
#include "hypervisor/media.hpp"
#include "hypervisor/qemu_argv.hpp"

namespace corral::hypervisor {

using monitor::awaitable;
using monitor::JsonObject;
using monitor::makeError;
using monitor::Result;

namespace {

std::string mediumNode(std::string_view id) {
    return std::string(id) + "-medium";
}

class MediaBackend final : public DeviceBackend {
  public:
    void bootArgs(const Device& cdrom, int&, std::vector<std::string>& argv) const override {
        if (cdrom.text("path").empty()) return;
        argv.insert(argv.end(), {"-blockdev", "driver=file,node-name=" + mediumNode(cdrom.id) +
                                                  ",filename=" + escapeOption(cdrom.text("path")) +
                                                  ",read-only=on"});
    }

    Properties deviceLinks(const Device& cdrom) const override {
        if (cdrom.text("path").empty()) return {};
        return {{"drive", mediumNode(cdrom.id)}};
    }
};

// Adds the node on `path` (opened here, passed with add-fd) and inserts it into the drive.
awaitable<Result<void>> insert(monitor::QmpClient& qmp, const std::string& id,
                               const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        co_return makeError(Errc::OpenFailed, id,
                            "cannot open " + path + ": " + std::strerror(errno));
    auto added = co_await addTaggedFd(qmp, fd, id);
    ::close(fd);
    if (!added) co_return added.error();
    int fdset = added.value();
    auto node = co_await qmp.execute("blockdev-add",
                                     JsonObject()
                                         .set("driver", "file")
                                         .set("node-name", mediumNode(id))
                                         .set("filename", "/dev/fdset/" + std::to_string(fdset))
                                         .set("read-only", true)
                                         .take());
    co_await qmp.removeFd(fdset);
    if (!node) co_return node.error();
    auto inserted =
        co_await qmp.execute("blockdev-insert-medium",
                             JsonObject().set("id", id).set("node-name", mediumNode(id)).take());
    if (!inserted) {
        co_await qmp.execute("blockdev-del", JsonObject().set("node-name", mediumNode(id)).take());
        co_return inserted.error();
    }
    co_return Result<void>();
}

}  // namespace

const DeviceBackend& mediaBackend() {
    static const MediaBackend backend;
    return backend;
}

awaitable<Result<void>> changeMedium(monitor::QmpClient& qmp, std::string id, std::string path) {
    auto opened = co_await qmp.execute("blockdev-open-tray",
                                       JsonObject().set("id", id).set("force", true).take());
    if (!opened) co_return opened.error();
    auto removed =
        co_await qmp.execute("blockdev-remove-medium", JsonObject().set("id", id).take());
    if (!removed) co_return removed.error();
    // The node the old medium was on; absent for an empty drive (the error is of no interest).
    co_await qmp.execute("blockdev-del", JsonObject().set("node-name", mediumNode(id)).take());
    if (!path.empty()) {
        auto inserted = co_await insert(qmp, id, path);
        if (!inserted) co_return inserted.error();
    }
    auto closed = co_await qmp.execute("blockdev-close-tray", JsonObject().set("id", id).take());
    if (!closed) co_return closed.error();
    co_return Result<void>();
}

}  // namespace corral::hypervisor

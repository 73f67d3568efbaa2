// Backend::Object: a QOM object stands behind the device ("-object <type>,id=<id><suffix>,..."
// at boot, object-add at hotplug, object-del after), its properties taken from the device's
// options as the kind's ObjectBackend lists them. A property that names a path (an rng's entropy
// source) is opened by corrald at hotplug and passed as an fdset: a confined qemu opens no path.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <variant>

#include "hypervisor/device_backend.hpp"
#include "hypervisor/qemu_argv.hpp"

namespace corral::hypervisor {

using monitor::awaitable;
using monitor::JsonObject;
using monitor::Result;

namespace {

// Whether the kind's option `key` is a path (OptionType::Path).
bool namesPath(const DeviceKind& kind, std::string_view key) {
    for (const auto& option : kind.options)
        if (option.key == key) return option.type == OptionType::Path;
    return false;
}

std::string objectId(const Device& device) {
    return device.id + std::string(device.kind->object.idSuffix);
}

awaitable<void> deleteObject(monitor::QmpClient& qmp, std::string id) {
    co_await qmp.execute("object-del", JsonObject().set("id", id).take());
}

class QomObjectBackend final : public DeviceBackend {
  public:
    std::vector<std::string_view> hotplugCommands() const override {
        return {"object-add", "object-del", "add-fd", "remove-fd"};
    }

    void bootArgs(const Device& device, int&, std::vector<std::string>& argv) const override {
        const auto& object = device.kind->object;
        std::string line = std::string(object.qomType) + ",id=" + objectId(device);
        for (const auto& [property, option] : object.properties) {
            auto it = device.options.find(option);
            if (it == device.options.end()) continue;
            auto* flag = std::get_if<bool>(&it->second);
            line += "," + std::string(property) + "=" +
                    (flag ? std::string(*flag ? "on" : "off")
                          : escapeOption(std::get<std::string>(it->second)));
        }
        argv.insert(argv.end(), {"-object", line});
    }

    Properties deviceLinks(const Device& device) const override {
        return {{std::string(device.kind->object.link), objectId(device)}};
    }

    awaitable<Result<void>> attach(monitor::QmpClient& qmp, Device& device,
                                   const PlugDevice& plug) const override {
        const auto& object = device.kind->object;
        JsonObject args;
        args.set("qom-type", object.qomType).set("id", objectId(device));
        std::vector<int> fdsets;
        std::optional<monitor::Error> failure;
        for (const auto& [property, option] : object.properties) {
            auto it = device.options.find(option);
            if (it == device.options.end()) continue;
            if (auto* flag = std::get_if<bool>(&it->second)) {
                args.set(property, *flag);
                continue;
            }
            const auto& value = std::get<std::string>(it->second);
            if (failure || !namesPath(*device.kind, option)) {
                args.set(property, value);
                continue;
            }
            int fd = ::open(value.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                failure = monitor::makeError(monitor::Errc::OpenFailed, device.id,
                                             "cannot open " + value + ": " + std::strerror(errno));
                continue;
            }
            auto fdset = co_await addTaggedFd(qmp, fd, device.id);
            ::close(fd);
            if (!fdset) {
                failure = fdset.error();
                continue;
            }
            fdsets.push_back(fdset.value());
            args.set(property, "/dev/fdset/" + std::to_string(fdset.value()));
        }
        if (!failure) {
            auto added = co_await qmp.execute("object-add", args.take());
            if (!added) failure = added.error();
        }
        // QEMU holds its own dup of each fd now (or nothing, on failure): drop the fdsets.
        for (int fdset : fdsets) co_await qmp.removeFd(fdset);
        if (failure) co_return *failure;
        auto plugged = co_await plug();
        if (!plugged) {
            co_await deleteObject(qmp, objectId(device));
            co_return plugged.error();
        }
        co_return Result<void>();
    }

    awaitable<void> remove(monitor::QmpClient& qmp, const Device& device) const override {
        co_await deleteObject(qmp, objectId(device));
    }

    // Objects of an Object kind's type and naming that no device uses.
    awaitable<void> removeOrphans(monitor::QmpClient& qmp, const Owned& owned,
                                  std::vector<std::string>& removed) const override {
        std::vector<const DeviceKind*> kinds;
        for (const auto* kind : deviceKinds())
            if (kind->backend == Backend::Object) kinds.push_back(kind);
        if (kinds.empty()) co_return;
        auto children =
            co_await qmp.execute("qom-list", JsonObject().set("path", "/objects").take());
        if (!children || !children->IsArray()) co_return;
        std::vector<std::string> orphans;
        for (const auto& child : children->GetArray()) {
            std::string name = stringMember(child, "name");
            std::string type = stringMember(child, "type");
            for (const auto* kind : kinds) {
                if (type != "child<" + std::string(kind->object.qomType) + ">") continue;
                std::string id = idBefore(name, kind->object.idSuffix);
                if (!id.empty() && !owned(id)) orphans.push_back(name);
            }
        }
        co_await deleteEach(qmp, "object-del", "id", "object", std::move(orphans), removed);
    }
};

}  // namespace

const DeviceBackend& objectBackend() {
    static const QomObjectBackend backend;
    return backend;
}

}  // namespace corral::hypervisor

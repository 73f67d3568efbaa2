// The parts of DeviceBackend every kind shares: device_add at the slot, the defaults of a kind
// without a backend, and the helpers recovery uses to read QEMU's lists.
#include "hypervisor/device_backend.hpp"

#include <variant>

namespace corral::hypervisor {

using monitor::awaitable;
using monitor::JsonObject;
using monitor::Result;

awaitable<Result<int>> addTaggedFd(monitor::QmpClient& qmp, int fd, const std::string& id) {
    std::vector<int> fds(1, fd);
    auto reply = co_await qmp.execute(
        "add-fd", JsonObject().set("opaque", std::string(kFdsetTag) + id).take(),
        monitor::kDefaultCommandTimeout, std::move(fds));
    if (!reply) co_return reply.error();
    if (!reply->IsObject() || !reply->HasMember("fdset-id") || !(*reply)["fdset-id"].IsInt()) {
        co_return monitor::makeError(monitor::Errc::Protocol, "add-fd",
                                     "reply lacks fdset-id: " + monitor::toJsonString(*reply));
    }
    co_return (*reply)["fdset-id"].GetInt();
}

awaitable<Result<void>> PlugDevice::operator()() const {
    JsonObject args;
    args.set("driver", std::string(device.driver())).set("id", device.id);
    for (const auto& [property, value] : backendOf(*device.kind).deviceLinks(device))
        args.set(property, value);
    for (const auto& option : device.kind->options) {
        if (option.deviceProperty.empty()) continue;
        args.set(std::string(option.deviceProperty), std::string(device.text(option.key)));
    }
    args.set("bus", device.slot.bus);
    if (device.onScsi())
        args.set("scsi-id", device.slot.slot).set("lun", 0u);
    else
        args.set("addr", device.slot.addr()).set("romfile", kHotplugRomfile);
    auto added = co_await qmp.execute("device_add", args.take());
    if (!added) co_return added.error();
    co_return Result<void>();
}

awaitable<Result<void>> DeviceBackend::attach(monitor::QmpClient&, Device&,
                                              const PlugDevice& plug) const {
    co_return co_await plug();
}

awaitable<void> DeviceBackend::remove(monitor::QmpClient&, const Device&) const {
    co_return;
}

awaitable<void> DeviceBackend::removeOrphans(monitor::QmpClient&, const Owned&,
                                             std::vector<std::string>&) const {
    co_return;
}

const DeviceBackend& backendOf(const DeviceKind& kind) {
    static const DeviceBackend none;
    switch (kind.backend) {
        case Backend::None:
            return none;
        case Backend::Block:
            return blockBackend();
        case Backend::Netdev:
            return netdevBackend();
        case Backend::Object:
            return objectBackend();
        case Backend::Media:
            return mediaBackend();
    }
    return none;
}

awaitable<void> deleteEach(monitor::QmpClient& qmp, std::string command, std::string key,
                           std::string what, std::vector<std::string> names,
                           std::vector<std::string>& removed) {
    for (const auto& name : names) {
        auto deleted = co_await qmp.execute(command, JsonObject().set(key, name).take());
        if (deleted) removed.push_back(what + " " + name);
    }
}

std::string idBefore(std::string_view name, std::string_view suffix) {
    if (name.size() <= suffix.size() || !name.ends_with(suffix)) return {};
    return std::string(name.substr(0, name.size() - suffix.size()));
}

std::string stringMember(const rapidjson::Value& object, const char* name) {
    if (!object.IsObject() || !object.HasMember(name) || !object[name].IsString()) return {};
    return object[name].GetString();
}

}  // namespace corral::hypervisor

#include "hypervisor/hotplug.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "hypervisor/hotplug_impl.hpp"
#include "hypervisor/instance_name.hpp"
#include "hypervisor/qemu_argv.hpp"
#include "hypervisor/tap.hpp"

namespace corral::hypervisor {

using monitor::awaitable;
using monitor::Json;
using monitor::JsonObject;
using monitor::makeError;
using monitor::Result;

namespace {

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

void flatten(const rapidjson::Value& devices, const std::string& bus,
             std::vector<OccupiedSlot>& out) {
    if (!devices.IsArray()) return;
    for (const auto& device : devices.GetArray()) {
        if (!device.IsObject() || !device.HasMember("slot") || !device["slot"].IsUint()) continue;
        std::string qdevId;
        if (device.HasMember("qdev_id") && device["qdev_id"].IsString()) {
            qdevId = device["qdev_id"].GetString();
        }
        out.push_back({bus, device["slot"].GetUint(), qdevId});
        if (device.HasMember("pci_bridge") && device["pci_bridge"].IsObject()) {
            const auto& bridge = device["pci_bridge"];
            if (bridge.HasMember("devices")) flatten(bridge["devices"], qdevId, out);
        }
    }
}

}  // namespace

std::vector<OccupiedSlot> flattenQueryPci(const rapidjson::Value& queryPciReturn,
                                          const std::string& rootBus) {
    std::vector<OccupiedSlot> out;
    if (!queryPciReturn.IsArray()) return out;
    for (const auto& bus : queryPciReturn.GetArray()) {
        // Root buses come first; only bus 0 is the machine's pci.0 / pcie.0.
        if (!bus.IsObject() || !bus.HasMember("bus") || !bus["bus"].IsInt() ||
            bus["bus"].GetInt() != 0 || !bus.HasMember("devices")) {
            continue;
        }
        flatten(bus["devices"], rootBus, out);
    }
    return out;
}

Hotplug::Impl::Impl(std::shared_ptr<monitor::QmpClient> qmp, const SlotPlan& plan,
                    std::string instanceName)
    : qmp_(std::move(qmp)), plan_(plan), instanceName_(std::move(instanceName)), slots_(plan) {}

bool Hotplug::Impl::canHotAddDisk() const {
    return qmp_->supports("device_add") && qmp_->supports("blockdev-add") &&
           qmp_->supports("add-fd") && qmp_->supports("remove-fd");
}

bool Hotplug::Impl::canHotAddNic() const {
    return qmp_->supports("device_add") && qmp_->supports("netdev_add") && qmp_->supports("getfd");
}

Result<PciSlot> Hotplug::Impl::reserve(const std::string& id) {
    if (auto why = checkDeviceId(id)) return makeError(Errc::InvalidArgument, id, *why);
    if (busy_.count(id) || devices_.count(id) || plan_.find(id)) {
        return makeError(Errc::DeviceExists, id, "a device with this id already exists");
    }
    auto slot = slots_.allocate(id);
    if (!slot) return makeError(Errc::NoFreeSlot, id, slots_.exhaustedMessage());
    busy_.insert(id);
    return *slot;
}

awaitable<Result<std::string>> Hotplug::Impl::attachDisk(std::string id, std::filesystem::path path,
                                                         DiskOptions options) {
    if (!canHotAddDisk()) {
        co_return makeError(Errc::NotSupported, id, "this qemu cannot hotplug disks over QMP");
    }
    auto slot = reserve(id);
    if (!slot) co_return slot.error();
    OwnedFd image{::open(path.c_str(), (options.readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC)};
    if (image.fd < 0) {
        auto error = makeError(Errc::OpenFailed, id,
                               "cannot open " + path.string() + ": " + std::strerror(errno));
        slots_.release(id);
        busy_.erase(id);
        co_return error;
    }
    auto fdset = co_await addTaggedFd(*qmp_, image.fd, id);
    ::close(std::exchange(image.fd, -1));
    if (!fdset) {
        slots_.release(id);
        busy_.erase(id);
        co_return fdset.error();
    }
    JsonObject cache;
    cache.set("direct", options.cache == DiskCache::None)
        .set("no-flush", options.cache == DiskCache::Unsafe);
    // Each step runs only if all before it worked; `failure` keeps the first error.
    std::optional<monitor::Error> failure;
    bool fileAdded = false;
    bool formatAdded = false;
    auto file = co_await qmp_->execute("blockdev-add",
                                       JsonObject()
                                           .set("driver", "file")
                                           .set("node-name", fileNodeName(id))
                                           .set("filename", "/dev/fdset/" + std::to_string(*fdset))
                                           .set("read-only", options.readonly)
                                           .set("cache", cache)
                                           .take());
    if (file) {
        fileAdded = true;
    } else {
        failure = file.error();
    }
    if (!failure) {
        auto format =
            co_await qmp_->execute("blockdev-add", JsonObject()
                                                       .set("driver", toString(options.format))
                                                       .set("node-name", formatNodeName(id))
                                                       .set("file", fileNodeName(id))
                                                       .set("read-only", options.readonly)
                                                       .take());
        if (format) {
            formatAdded = true;
        } else {
            failure = format.error();
        }
    }
    if (!failure) {
        auto device = co_await qmp_->execute("device_add", JsonObject()
                                                               .set("driver", "virtio-blk-pci")
                                                               .set("id", id)
                                                               .set("drive", formatNodeName(id))
                                                               .set("bus", slot->bus)
                                                               .set("addr", slot->addr())
                                                               .take());
        if (!device) failure = device.error();
    }
    // QEMU holds its own dup of the image fd now (or nothing, on failure): drop the fdset.
    co_await qmp_->removeFd(*fdset);
    if (failure) {
        co_await removeDiskNodes(id, formatAdded, fileAdded);
        slots_.release(id);
        busy_.erase(id);
        co_return *failure;
    }
    busy_.erase(id);
    devices_[id] = {id, "disk", *slot, path.string()};
    co_return slot->toString();
}

awaitable<void> Hotplug::Impl::removeDiskNodes(std::string id, bool format, bool file) {
    if (format) {
        co_await qmp_->execute("blockdev-del",
                               JsonObject().set("node-name", formatNodeName(id)).take());
    }
    if (file) {
        co_await qmp_->execute("blockdev-del",
                               JsonObject().set("node-name", fileNodeName(id)).take());
    }
}

awaitable<Result<std::string>> Hotplug::Impl::attachNic(std::string id, NicOptions options) {
    if (!canHotAddNic()) {
        co_return makeError(Errc::NotSupported, id, "this qemu cannot hotplug NICs over QMP");
    }
    std::string mac = options.mac.empty() ? derivedMac(instanceName_, id) : options.mac;
    auto normalized = normalizeMac(mac);
    if (!normalized) {
        co_return makeError(Errc::InvalidArgument, id,
                            "\"" + mac + "\" is not a unicast MAC address");
    }
    if (options.mode == NicMode::Bridge && options.bridge.empty()) {
        co_return makeError(Errc::InvalidArgument, id, "mode bridge needs a bridge name");
    }
    auto slot = reserve(id);
    if (!slot) co_return slot.error();
    auto fail = [&](const monitor::Error& error) {
        slots_.release(id);
        busy_.erase(id);
        return error;
    };
    std::string fdName = "corral-fd-" + id;
    std::string tapName;
    JsonObject netdev;
    netdev.set("id", netdevId(id));
    if (options.mode == NicMode::User) {
        netdev.set("type", "user");
    } else {
        auto tap = openTap(options.ifname,
                           options.mode == NicMode::Bridge ? options.bridge : std::string());
        if (!tap) co_return fail(tap.error());
        tapName = tap->name();
        auto passed = co_await qmp_->getfd(fdName, tap->fd());
        if (!passed) co_return fail(passed.error());
        netdev.set("type", "tap").set("fd", fdName).set("vhost", false);
    }  // our copy of the tap fd is closed here: QEMU holds its own
    auto backend = co_await qmp_->execute("netdev_add", netdev.take());
    if (!backend) {
        if (options.mode != NicMode::User) co_await removeNicBackend(id, false, true);
        co_return fail(backend.error());
    }
    auto device = co_await qmp_->execute("device_add", JsonObject()
                                                           .set("driver", "virtio-net-pci")
                                                           .set("id", id)
                                                           .set("netdev", netdevId(id))
                                                           .set("mac", *normalized)
                                                           .set("bus", slot->bus)
                                                           .set("addr", slot->addr())
                                                           .take());
    if (!device) {
        co_await removeNicBackend(id, true, false);
        co_return fail(device.error());
    }
    busy_.erase(id);
    devices_[id] = {id, "nic", *slot, tapName};
    co_return slot->toString();
}

awaitable<void> Hotplug::Impl::removeNicBackend(std::string id, bool netdev, bool fd) {
    if (netdev) co_await qmp_->execute("netdev_del", JsonObject().set("id", netdevId(id)).take());
    if (fd) co_await qmp_->execute("closefd", JsonObject().set("fdname", "corral-fd-" + id).take());
}

awaitable<Result<void>> Hotplug::Impl::detach(std::string id, std::chrono::milliseconds timeout) {
    auto it = devices_.find(id);
    if (it == devices_.end() || busy_.count(id)) {
        co_return makeError(Errc::NoSuchDevice, id,
                            plan_.find(id) ? "boot-time devices cannot be detached"
                                           : "no hotplugged device with this id");
    }
    std::string kind = it->second.kind;
    busy_.insert(id);
    // Armed before device_del so an event arriving with the reply is not missed. virtio also
    // reports its backend (path .../virtio-backend, no "device"): the id match skips it.
    auto watch = qmp_->watchEvent([id](const monitor::QmpEvent& event) {
        if (event.name != "DEVICE_DELETED" && event.name != "DEVICE_UNPLUG_GUEST_ERROR") {
            return false;
        }
        return event.data.IsObject() && event.data.HasMember("device") &&
               event.data["device"].IsString() && event.data["device"].GetString() == id;
    });
    auto requested = co_await qmp_->execute("device_del", JsonObject().set("id", id).take());
    if (!requested) {
        busy_.erase(id);
        co_return requested.error();
    }
    auto event = co_await watch.wait(timeout);
    if (!event || event->name != "DEVICE_DELETED") {
        busy_.erase(id);
        if (!event) {
            co_return makeError(Errc::UnplugFailed, id,
                                "the guest did not release the device (" + event.error().message +
                                    "); it stays attached");
        }
        co_return makeError(Errc::UnplugFailed, id, "the guest refused the unplug request");
    }
    if (kind == "disk") {
        co_await removeDiskNodes(id, true, true);
    } else {
        co_await removeNicBackend(id, true, false);
    }
    slots_.release(id);
    devices_.erase(id);
    busy_.erase(id);
    co_return Result<void>();
}

awaitable<Result<std::vector<OccupiedSlot>>> Hotplug::Impl::reconcile() {
    auto reply = co_await qmp_->execute("query-pci");
    if (!reply) co_return reply.error();
    auto occupied = flattenQueryPci(*reply, plan_.rootBus());
    // query-pci lists devices behind a root port only once the firmware numbered its bus (not
    // while paused in -S): ask QOM where each of our ports' children sits.
    if (!plan_.hotplugPorts.empty()) {
        auto behind = co_await devicesOnPorts();
        if (!behind) co_return behind.error();
        for (auto& device : *behind) {
            bool known = std::any_of(occupied.begin(), occupied.end(),
                                     [&](const auto& o) { return o.deviceId == device.deviceId; });
            if (!known) occupied.push_back(std::move(device));
        }
    }
    slots_.reconcile(occupied);
    co_return occupied;
}

awaitable<Result<std::vector<OccupiedSlot>>> Hotplug::Impl::devicesOnPorts() {
    auto children =
        co_await qmp_->execute("qom-list", JsonObject().set("path", "/machine/peripheral").take());
    if (!children) co_return children.error();
    std::vector<OccupiedSlot> out;
    if (!children->IsArray()) co_return out;
    for (const auto& child : children->GetArray()) {
        if (!child.IsObject() || !child.HasMember("name") || !child["name"].IsString() ||
            !child.HasMember("type") || !child["type"].IsString() ||
            std::string_view(child["type"].GetString()).substr(0, 6) != "child<") {
            continue;
        }
        std::string id = child["name"].GetString();
        std::string path = "/machine/peripheral/" + id;
        auto bus = co_await qmp_->execute(
            "qom-get", JsonObject().set("path", path).set("property", "parent_bus").take());
        if (!bus || !bus->IsString()) continue;  // not a device on a bus
        // "/machine/peripheral/<port>/<bus name>": the port is the second-last component.
        std::filesystem::path busPath = bus->GetString();
        std::string port = busPath.parent_path().filename();
        if (std::find(plan_.hotplugPorts.begin(), plan_.hotplugPorts.end(), port) ==
            plan_.hotplugPorts.end()) {
            continue;
        }
        auto addr = co_await qmp_->execute(
            "qom-get", JsonObject().set("path", path).set("property", "addr").take());
        if (!addr || !addr->IsInt()) continue;
        out.push_back({port, static_cast<unsigned>(addr->GetInt()) >> 3, id});
    }
    co_return out;
}

void Hotplug::Impl::restore(const std::vector<HotpluggedDevice>& devices) {
    for (const auto& device : devices) devices_[device.id] = device;
}

std::vector<HotpluggedDevice> Hotplug::Impl::devices() const {
    std::vector<HotpluggedDevice> out;
    for (const auto& [id, device] : devices_) out.push_back(device);
    return out;
}

Hotplug::Hotplug(std::shared_ptr<monitor::QmpClient> qmp, const SlotPlan& plan,
                 std::string instanceName)
    : impl_(std::make_shared<Impl>(std::move(qmp), plan, std::move(instanceName))) {}

bool Hotplug::canHotAddDisk() const {
    return impl_->canHotAddDisk();
}

bool Hotplug::canHotAddNic() const {
    return impl_->canHotAddNic();
}

// Each public coroutine is a stateless lambda given impl_ as a parameter: the frame owns the
// state from its creation, before it first runs (asio awaitables start lazily).
awaitable<Result<std::string>> Hotplug::attachDisk(std::string id, std::filesystem::path path,
                                                   DiskOptions options) {
    auto run = [](std::shared_ptr<Impl> impl, std::string id, std::filesystem::path path,
                  DiskOptions options) -> awaitable<Result<std::string>> {
        co_return co_await impl->attachDisk(std::move(id), std::move(path), options);
    };
    return run(impl_, std::move(id), std::move(path), options);
}

awaitable<Result<std::string>> Hotplug::attachNic(std::string id, NicOptions options) {
    auto run = [](std::shared_ptr<Impl> impl, std::string id,
                  NicOptions options) -> awaitable<Result<std::string>> {
        co_return co_await impl->attachNic(std::move(id), std::move(options));
    };
    return run(impl_, std::move(id), std::move(options));
}

awaitable<Result<void>> Hotplug::detach(std::string id, std::chrono::milliseconds timeout) {
    auto run = [](std::shared_ptr<Impl> impl, std::string id,
                  std::chrono::milliseconds timeout) -> awaitable<Result<void>> {
        co_return co_await impl->detach(std::move(id), timeout);
    };
    return run(impl_, std::move(id), timeout);
}

awaitable<Result<std::vector<OccupiedSlot>>> Hotplug::reconcile() {
    auto run = [](std::shared_ptr<Impl> impl) -> awaitable<Result<std::vector<OccupiedSlot>>> {
        co_return co_await impl->reconcile();
    };
    return run(impl_);
}

awaitable<Result<Recovery>> Hotplug::recover() {
    auto run = [](std::shared_ptr<Impl> impl) -> awaitable<Result<Recovery>> {
        co_return co_await impl->recover();
    };
    return run(impl_);
}

void Hotplug::restore(const std::vector<HotpluggedDevice>& devices) {
    impl_->restore(devices);
}

std::vector<HotpluggedDevice> Hotplug::devices() const {
    return impl_->devices();
}

const SlotAllocator& Hotplug::slots() const {
    return impl_->slots_;
}

}  // namespace corral::hypervisor

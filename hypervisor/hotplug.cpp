#include "hypervisor/hotplug.hpp"

#include <algorithm>

#include "hypervisor/device_backend.hpp"
#include "hypervisor/device_options.hpp"
#include "hypervisor/hotplug_impl.hpp"
#include "hypervisor/ide_ports.hpp"
#include "hypervisor/instance_name.hpp"

namespace corral::hypervisor {

using monitor::awaitable;
using monitor::Json;
using monitor::JsonObject;
using monitor::makeError;
using monitor::Result;

namespace {

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

bool Hotplug::Impl::canHotAdd(const DeviceKind& kind) const {
    if (!kind.hotpluggable || !qmp_->supports("device_add")) return false;
    const auto commands = backendOf(kind).hotplugCommands();
    return std::all_of(commands.begin(), commands.end(),
                       [&](std::string_view command) { return qmp_->supports(command); });
}

Result<void> Hotplug::Impl::complete(Device& device) const {
    const auto& kind = *device.kind;
    auto refuse = [&](const std::string& why) {
        return makeError(Errc::InvalidArgument, device.id, why);
    };
    for (auto& [key, value] : device.options) {
        const auto* option = kind.option(key);
        if (!option) return refuse(std::string(kind.name) + " has no option \"" + key + "\"");
        if (std::holds_alternative<bool>(value) != (option->type == OptionType::Bool))
            return refuse("option \"" + key + "\" has the wrong type");
        if (auto problem = checkOptionValue(*option, value))
            return refuse(
                "option \"" + key + "\": \"" + problem->value + "\" is not " +
                (option->choices.empty() ? std::string(option->expected) : "one of its choices"));
    }
    auto problems = completeOptions(kind, device.options);
    if (!problems.empty() && problems.front().what == OptionProblem::What::Conflict)
        return refuse("option \"" + std::string(problems.front().option->key) +
                      "\": " + problems.front().reason);
    if (!problems.empty())
        return refuse("option \"" + std::string(problems.front().option->key) +
                      "\" is missing or does not fit the other options");
    device = makeDevice(kind, std::move(device.id), std::move(device.options), instanceName_);
    return Result<void>();
}

Result<PciSlot> Hotplug::Impl::reserve(const Device& device) {
    const std::string& id = device.id;
    if (auto why = checkDeviceId(id)) return makeError(Errc::InvalidArgument, id, *why);
    if (busy_.count(id) || devices_.count(id) || plan_.find(id)) {
        return makeError(Errc::DeviceExists, id, "a device with this id already exists");
    }
    if (device.onScsi()) return reserveScsi(device);
    auto slot = slots_.allocate(id);
    if (!slot) return makeError(Errc::NoFreeSlot, id, slots_.exhaustedMessage());
    busy_.insert(id);
    return *slot;
}

awaitable<Result<Device>> Hotplug::Impl::attach(Device device) {
    if (!device.kind || !device.kind->hotpluggable) {
        co_return makeError(Errc::InvalidArgument, device.id,
                            std::string(device.kindName()) + " devices cannot be hotplugged");
    }
    if (!canHotAdd(*device.kind)) {
        co_return makeError(
            Errc::NotSupported, device.id,
            "this qemu cannot hotplug a " + std::string(device.kind->name) + " over QMP");
    }
    if (auto completed = complete(device); !completed) co_return completed.error();
    if (usesIdePort(device)) {
        co_return makeError(Errc::InvalidArgument, device.id,
                            "a disk on bus \"sata\" cannot be hotplugged (the IDE/AHCI ports "
                            "are fixed at start); use bus \"virtio\" or add it to the definition");
    }
    auto slot = reserve(device);
    if (!slot) co_return slot.error();
    device.slot = *slot;
    device.hotplugged = true;
    PlugDevice plug{*qmp_, device};
    auto attached = co_await backendOf(*device.kind).attach(*qmp_, device, plug);
    busy_.erase(device.id);
    scsiPending_.erase(device.id);
    if (!attached) {
        slots_.release(device.id);
        co_return attached.error();
    }
    devices_[device.id] = device;
    co_return device;
}

awaitable<Result<void>> Hotplug::Impl::detach(std::string id, std::chrono::milliseconds timeout) {
    auto it = devices_.find(id);
    if (it == devices_.end() || busy_.count(id)) {
        co_return makeError(Errc::NoSuchDevice, id,
                            plan_.find(id) ? "boot-time devices cannot be detached"
                                           : "no hotplugged device with this id");
    }
    Device device = it->second;
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
    co_await backendOf(*device.kind).remove(*qmp_, device);
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

void Hotplug::Impl::restore(const std::vector<Device>& devices) {
    for (const auto& device : devices) devices_[device.id] = device;
}

std::vector<Device> Hotplug::Impl::devices() const {
    std::vector<Device> out;
    for (const auto& [id, device] : devices_) out.push_back(device);
    return out;
}

Hotplug::Hotplug(std::shared_ptr<monitor::QmpClient> qmp, const SlotPlan& plan,
                 std::string instanceName)
    : impl_(std::make_shared<Impl>(std::move(qmp), plan, std::move(instanceName))) {}

bool Hotplug::canHotAdd(const DeviceKind& kind) const {
    return impl_->canHotAdd(kind);
}

// Each public coroutine is a stateless lambda given impl_ as a parameter: the frame owns the
// state from its creation, before it first runs (asio awaitables start lazily).
awaitable<Result<Device>> Hotplug::attach(Device device) {
    auto run = [](std::shared_ptr<Impl> impl, Device device) -> awaitable<Result<Device>> {
        co_return co_await impl->attach(std::move(device));
    };
    return run(impl_, std::move(device));
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

void Hotplug::restore(const std::vector<Device>& devices) {
    impl_->restore(devices);
}

std::vector<Device> Hotplug::devices() const {
    return impl_->devices();
}

const SlotAllocator& Hotplug::slots() const {
    return impl_->slots_;
}

}  // namespace corral::hypervisor

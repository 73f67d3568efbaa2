// QemuVm: disk and NIC hotplug through hypervisor::Hotplug; the Devices property and state.json
// follow every completed attach and detach.
#include <algorithm>

#include "hypervisor/hotplug.hpp"
#include "supervisor/qemu_vm.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;

namespace {

OpError noHotplug(const std::string& name) {
    return {ErrorKind::InvalidState, name + " has no QMP connection; hotplug is unavailable."};
}

// QEMU answered, then exited before we resumed: teardown() already dropped hotplug_ and state.
OpError exitedDuringHotplug(const std::string& name) {
    return {ErrorKind::Failed, name + ": qemu exited during the hotplug; nothing was recorded."};
}

}  // namespace

asio::awaitable<void> QemuVm::startHotplug(std::vector<hypervisor::DeviceRecord> hotplugged) {
    if (!spec_ || !qmp_) co_return;
    hotplug_ =
        std::make_unique<hypervisor::Hotplug>(qmp_->client(), hypervisor::planSlots(*spec_), name_);
    std::vector<hypervisor::HotpluggedDevice> restored;
    for (const auto& d : hotplugged) restored.push_back({d.id, d.kind, d.slot, d.path});
    hotplug_->restore(restored);
    auto generation = generation_;
    // QEMU's view wins: slots taken by anything it reports stay taken.
    auto reconciled = co_await hotplug_->reconcile();
    if (generation != generation_) co_return;
    if (!reconciled) {
        log(4, "query-pci reconcile failed: " + reconciled.error().message);
        co_return;
    }
    // A corrald killed mid-hotplug leaves QEMU ahead of (or behind) state.json.
    auto recovered = co_await hotplug_->recover();
    if (generation != generation_) co_return;
    if (!recovered) {
        log(4, "hotplug recovery failed: " + recovered.error().message);
        co_return;
    }
    for (const auto& what : recovered->removed) log(5, "removed leftover " + what);
    if (!recovered->changedDevices()) co_return;
    for (const auto& id : recovered->dropped) {
        log(5, "device " + id + " in state.json is gone from QEMU; forgetting it");
        forgetDevice(id);
    }
    for (const auto& d : hotplug_->devices()) {
        if (std::find(recovered->adopted.begin(), recovered->adopted.end(), d.id) ==
            recovered->adopted.end())
            continue;
        log(5, d.kind + " " + d.id + " found in qemu at " + d.slot.toString() + "; adopted");
        devices_.push_back({d.id, d.kind, d.slot, true, d.path});
    }
    persist();
    devicesChanged().emit();
}

asio::awaitable<std::optional<OpError>> QemuVm::recordDevice(hypervisor::DeviceRecord record,
                                                             std::string address) {
    forgetDevice(record.id);
    devices_.push_back(record);
    auto unwritten = persist();
    if (!unwritten) {
        devicesChanged().emit();
        co_return std::nullopt;
    }
    // A device missing from state.json would be unknown to the next corrald: take it out again.
    forgetDevice(record.id);
    auto generation = generation_;
    std::string id = record.id;
    auto undone = co_await hotplug_->detach(std::move(id), std::chrono::seconds(30));
    std::string what = record.kind + " " + record.id;
    if (undone) {
        co_return OpError{ErrorKind::Failed, what + " not attached: " + *unwritten +
                                                 " (rolled back from " + address + ")"};
    }
    // Still in QEMU: list it, so Detach can be retried.
    if (generation == generation_) {
        devices_.push_back(std::move(record));
        devicesChanged().emit();
    }
    co_return OpError{ErrorKind::Failed, what + " attached at " + address +
                                             " but not recorded: " + *unwritten +
                                             "; rollback failed: " + undone.error().message};
}

void QemuVm::forgetDevice(const std::string& id) {
    std::erase_if(devices_, [&](const auto& d) { return d.id == id; });
}

asio::awaitable<Outcome<std::string>> QemuVm::attachDiskSteps(std::string id, std::string path,
                                                              bool readonly, std::string format) {
    hypervisor::DiskOptions options;
    options.readonly = readonly;
    bool qcow2 =
        format.empty() ? std::filesystem::path(path).extension() == ".qcow2" : format == "qcow2";
    if (qcow2) options.format = hypervisor::DiskFormat::Qcow2;
    std::filesystem::path file = path;
    std::string device = id;
    auto generation = generation_;
    auto result = co_await hotplug_->attachDisk(std::move(device), std::move(file), options);
    if (!result) co_return toOpError(result.error(), Channel::Monitor);
    if (generation != generation_) co_return exitedDuringHotplug(name_);
    if (auto slot = hotplug_->slots().slotOf(id)) {
        hypervisor::DeviceRecord record{id, "disk", *slot, true, path};
        auto failed = co_await recordDevice(std::move(record), *result);
        if (failed) co_return *failed;
    }
    log(5, "disk " + id + " (" + path + ") attached at " + *result);
    co_return *result;
}

asio::awaitable<Outcome<std::string>> QemuVm::attachNicSteps(std::string id, NicOptions nic) {
    hypervisor::NicOptions options;
    options.mode = nic.mode == "tap"      ? hypervisor::NicMode::Tap
                   : nic.mode == "bridge" ? hypervisor::NicMode::Bridge
                                          : hypervisor::NicMode::User;
    options.bridge = nic.bridge;
    options.mac = nic.mac;
    std::string device = id;
    auto generation = generation_;
    auto result = co_await hotplug_->attachNic(std::move(device), std::move(options));
    if (!result) co_return toOpError(result.error(), Channel::Monitor);
    if (generation != generation_) co_return exitedDuringHotplug(name_);
    std::string ifname;
    for (const auto& d : hotplug_->devices())
        if (d.id == id) ifname = d.path;
    if (auto slot = hotplug_->slots().slotOf(id)) {
        hypervisor::DeviceRecord record{id, "nic", *slot, true, ifname};
        auto failed = co_await recordDevice(std::move(record), *result);
        if (failed) co_return *failed;
    }
    log(5, "nic " + id + " (" + nic.mode + ") attached at " + *result);
    co_return *result;
}

asio::awaitable<Outcome<Unit>> QemuVm::detachSteps(std::string id) {
    std::string device = id;
    auto generation = generation_;
    auto result = co_await hotplug_->detach(std::move(device), std::chrono::seconds(30));
    if (!result) co_return toOpError(result.error(), Channel::Monitor);
    if (generation != generation_) co_return exitedDuringHotplug(name_);
    forgetDevice(id);
    // The device is gone whatever the disk says: a failed write leaves a stale state.json that
    // the next write replaces and that reattach reconciles against QEMU (startHotplug).
    persist();
    devicesChanged().emit();
    log(5, "device " + id + " detached");
    co_return Unit{};
}

void QemuVm::attachDisk(std::string id, std::string path, bool readonly, std::string format,
                        Reply<std::string> reply) {
    if (auto error = instance_.checkUsable()) return reply(*error);
    if (!hotplug_) return reply(noHotplug(name_));
    run<std::string>(attachDiskSteps(std::move(id), std::move(path), readonly, std::move(format)),
                     std::move(reply));
}

void QemuVm::attachNic(std::string id, NicOptions options, Reply<std::string> reply) {
    if (auto error = instance_.checkUsable()) return reply(*error);
    if (!hotplug_) return reply(noHotplug(name_));
    run<std::string>(attachNicSteps(std::move(id), std::move(options)), std::move(reply));
}

void QemuVm::detach(std::string id, Done done) {
    if (auto error = instance_.checkUsable()) return done(*error);
    if (!hotplug_) return done(noHotplug(name_));
    run<Unit>(detachSteps(std::move(id)), std::move(done));
}

}  // namespace corral::supervisor

// RunningQemu: disk and NIC hotplug through HotplugControl (hypervisor::Hotplug in corrald);
// the device records, and with them state.json and the Devices property, follow every completed
// attach and detach.
#include <algorithm>

#include "supervisor/running_qemu.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;

namespace {

OpError noHotplug(const std::string& name) {
    return {ErrorKind::InvalidState, name + " has no QMP connection; hotplug is unavailable."};
}

// QEMU answered, then exited before the result was recorded: its RunningQemu is gone.
OpError exitedDuringHotplug(const std::string& name) {
    return {ErrorKind::Failed, name + ": qemu exited during the hotplug; nothing was recorded."};
}

constexpr auto kDetachTimeout = std::chrono::seconds(30);

// A hotplug call with its error as callers see it, so that a call failing because qemu went away
// is answered with its own error even when the RunningQemu is gone by then (Lifetime::Ended).
asio::awaitable<Outcome<std::string>> overQmp(asio::awaitable<Result<std::string>> call) {
    auto result = co_await std::move(call);
    if (!result) co_return toOpError(result.error(), Channel::Monitor);
    co_return *result;
}

asio::awaitable<Outcome<Unit>> overQmp(asio::awaitable<Result<void>> call) {
    auto result = co_await std::move(call);
    if (!result) co_return toOpError(result.error(), Channel::Monitor);
    co_return Unit{};
}

}  // namespace

std::vector<hypervisor::DeviceRecord> RunningQemu::hotplugged() const {
    std::vector<hypervisor::DeviceRecord> out;
    for (const auto& d : state_.devices)
        if (d.hotplugged) out.push_back(d);
    return out;
}

asio::awaitable<void> RunningQemu::startHotplug(std::vector<hypervisor::DeviceRecord> hotplugged) {
    if (!plan_) co_return;
    hotplug_ = context_.parts.hotplug(*qmp_, *plan_, name_);
    auto hotplug = hotplug_;  // this one, even if a reconnect replaces hotplug_ meanwhile
    std::vector<hypervisor::HotpluggedDevice> restored;
    for (const auto& d : hotplugged) restored.push_back({d.id, d.kind, d.slot, d.path});
    hotplug->restore(restored);
    // QEMU's view wins: slots taken by anything it reports stay taken.
    auto reconciled = co_await life_.guard(hotplug->reconcile());
    if (!reconciled) {
        log(4, "query-pci reconcile failed: " + reconciled.error().message);
        co_return;
    }
    // A corrald killed mid-hotplug leaves QEMU ahead of (or behind) state.json.
    auto recovered = co_await life_.guard(hotplug->recover());
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
    for (const auto& d : hotplug->devices()) {
        if (std::find(recovered->adopted.begin(), recovered->adopted.end(), d.id) ==
            recovered->adopted.end())
            continue;
        log(5, d.kind + " " + d.id + " found in qemu at " + d.slot.toString() + "; adopted");
        state_.devices.push_back({d.id, d.kind, d.slot, true, d.path});
    }
    persist();
    notices_.devicesChanged.emit();
}

asio::awaitable<std::optional<OpError>> RunningQemu::recordDevice(
    std::shared_ptr<HotplugControl> hotplug, hypervisor::DeviceRecord record, std::string address) {
    forgetDevice(record.id);
    state_.devices.push_back(record);
    auto unwritten = persist();
    if (!unwritten) {
        notices_.devicesChanged.emit();
        co_return std::nullopt;
    }
    // A device missing from state.json would be unknown to the next corrald: take it out again.
    forgetDevice(record.id);
    std::string id = record.id;
    auto undone = co_await life_.guard(hotplug->detach(std::move(id), kDetachTimeout));
    std::string what = record.kind + " " + record.id;
    if (undone) {
        co_return OpError{ErrorKind::Failed, what + " not attached: " + *unwritten +
                                                 " (rolled back from " + address + ")"};
    }
    // Still in QEMU: list it, so Detach can be retried.
    state_.devices.push_back(std::move(record));
    notices_.devicesChanged.emit();
    co_return OpError{ErrorKind::Failed, what + " attached at " + address +
                                             " but not recorded: " + *unwritten +
                                             "; rollback failed: " + undone.error().message};
}

void RunningQemu::forgetDevice(const std::string& id) {
    std::erase_if(state_.devices, [&](const auto& d) { return d.id == id; });
}

asio::awaitable<Outcome<std::string>> RunningQemu::attachDiskSteps(std::string id, std::string path,
                                                                   bool readonly,
                                                                   std::string format) {
    hypervisor::DiskOptions options;
    options.readonly = readonly;
    bool qcow2 =
        format.empty() ? std::filesystem::path(path).extension() == ".qcow2" : format == "qcow2";
    if (qcow2) options.format = hypervisor::DiskFormat::Qcow2;
    std::filesystem::path file = path;
    std::string device = id;
    auto hotplug = hotplug_;
    auto result = co_await life_.guard(
        overQmp(hotplug->attachDisk(std::move(device), std::move(file), options)));
    if (!result) co_return result.error();
    if (auto slot = hotplug->slotOf(id)) {
        hypervisor::DeviceRecord record{id, "disk", *slot, true, path};
        auto failed = co_await recordDevice(hotplug, std::move(record), result.value());
        if (failed) co_return *failed;
    }
    log(5, "disk " + id + " (" + path + ") attached at " + result.value());
    co_return result.value();
}

asio::awaitable<Outcome<std::string>> RunningQemu::attachNicSteps(std::string id, NicOptions nic) {
    hypervisor::NicOptions options;
    options.mode = nic.mode == "tap"      ? hypervisor::NicMode::Tap
                   : nic.mode == "bridge" ? hypervisor::NicMode::Bridge
                                          : hypervisor::NicMode::User;
    options.bridge = nic.bridge;
    options.mac = nic.mac;
    std::string device = id;
    auto hotplug = hotplug_;
    auto result =
        co_await life_.guard(overQmp(hotplug->attachNic(std::move(device), std::move(options))));
    if (!result) co_return result.error();
    std::string ifname;
    for (const auto& d : hotplug->devices())
        if (d.id == id) ifname = d.path;
    if (auto slot = hotplug->slotOf(id)) {
        hypervisor::DeviceRecord record{id, "nic", *slot, true, ifname};
        auto failed = co_await recordDevice(hotplug, std::move(record), result.value());
        if (failed) co_return *failed;
    }
    log(5, "nic " + id + " (" + nic.mode + ") attached at " + result.value());
    co_return result.value();
}

asio::awaitable<Outcome<Unit>> RunningQemu::detachSteps(std::string id) {
    std::string device = id;
    auto hotplug = hotplug_;
    auto result = co_await life_.guard(overQmp(hotplug->detach(std::move(device), kDetachTimeout)));
    if (!result) co_return result.error();
    forgetDevice(id);
    // The device is gone whatever the disk says: a failed write leaves a stale state.json that
    // the next write replaces and that reattach reconciles against QEMU (startHotplug).
    persist();
    notices_.devicesChanged.emit();
    log(5, "device " + id + " detached");
    co_return Unit{};
}

void RunningQemu::attachDisk(std::string id, std::string path, bool readonly, std::string format,
                             Reply<std::string> reply) {
    if (!hotplug_) return reply(noHotplug(name_));
    life_.run<std::string>(
        attachDiskSteps(std::move(id), std::move(path), readonly, std::move(format)),
        std::move(reply), exitedDuringHotplug(name_));
}

void RunningQemu::attachNic(std::string id, NicOptions options, Reply<std::string> reply) {
    if (!hotplug_) return reply(noHotplug(name_));
    life_.run<std::string>(attachNicSteps(std::move(id), std::move(options)), std::move(reply),
                           exitedDuringHotplug(name_));
}

void RunningQemu::detach(std::string id, Done done) {
    if (!hotplug_) return done(noHotplug(name_));
    life_.run<Unit>(detachSteps(std::move(id)), std::move(done), exitedDuringHotplug(name_));
}

}  // namespace corral::supervisor

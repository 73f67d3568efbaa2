// RunningQemu: hotplug of any device kind through HotplugControl (hypervisor::Hotplug in corrald);
// the device records, and with them state.json and the Devices property, follow every completed
// attach and detach.
#include <algorithm>

#include "supervisor/device_clash.hpp"
#include "supervisor/disk_ops.hpp"
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
asio::awaitable<Outcome<hypervisor::Device>> overQmp(
    asio::awaitable<Result<hypervisor::Device>> call) {
    auto result = co_await std::move(call);
    if (!result) co_return toOpError(result.error(), Channel::Monitor);
    co_return std::move(*result);
}

asio::awaitable<Outcome<Unit>> overQmp(asio::awaitable<Result<void>> call) {
    auto result = co_await std::move(call);
    if (!result) co_return toOpError(result.error(), Channel::Monitor);
    co_return Unit{};
}

}  // namespace

std::vector<hypervisor::Device> RunningQemu::hotplugged() const {
    std::vector<hypervisor::Device> out;
    for (const auto& d : state_.devices)
        if (d.hotplugged) out.push_back(d);
    return out;
}

asio::awaitable<void> RunningQemu::startHotplug(std::vector<hypervisor::Device> hotplugged) {
    if (!plan_) co_return;
    hotplug_ = context_.parts.hotplug(*qmp_, *plan_, name_);
    auto hotplug = hotplug_;  // this one, even if a reconnect replaces hotplug_ meanwhile
    hotplug->restore(hotplugged);
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
        log(5, std::string(d.kindName()) + " " + d.id + " found in qemu at " + d.slot.toString() +
                   "; adopted");
        state_.devices.push_back(d);
    }
    persist();
    notices_.devicesChanged.emit();
}

asio::awaitable<std::optional<OpError>> RunningQemu::recordDevice(
    std::shared_ptr<HotplugControl> hotplug, hypervisor::Device record, std::string address) {
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
    std::string what = std::string(record.kindName()) + " " + record.id;
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

asio::awaitable<Outcome<std::string>> RunningQemu::attachSteps(hypervisor::Device device) {
    auto hotplug = hotplug_;
    auto result = co_await life_.guard(overQmp(hotplug->attach(std::move(device))));
    if (!result) co_return result.error();
    if (auto unlimited = co_await limitAttached(hotplug, result.value())) co_return *unlimited;
    auto address = result.value().slot.toString();
    std::string what = std::string(result.value().kindName()) + " " + result.value().id;
    if (!result.value().backend.empty()) what += " (" + result.value().backend + ")";
    auto failed = co_await recordDevice(hotplug, std::move(result.value()), address);
    if (failed) co_return *failed;
    log(5, what + " attached at " + address);
    co_return address;
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

void RunningQemu::attachDevice(hypervisor::Device device, Reply<std::string> reply) {
    if (!hotplug_) return reply(noHotplug(name_));
    if (auto clash = uniqueValueClash(device, state_.devices, name_)) return reply(*clash);
    if (auto refused = joinThrottleGroup(device, state_.devices, name_)) return reply(*refused);
    life_.run<std::string>(attachSteps(std::move(device)), std::move(reply),
                           exitedDuringHotplug(name_));
}

void RunningQemu::detach(std::string id, Done done) {
    if (!hotplug_) return done(noHotplug(name_));
    life_.run<Unit>(detachSteps(std::move(id)), std::move(done), exitedDuringHotplug(name_));
}

}  // namespace corral::supervisor

// QemuVm: hotplug of any device kind through hypervisor::Hotplug; the Devices property and
// state.json follow every completed attach and detach.
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

asio::awaitable<void> QemuVm::startHotplug(std::vector<hypervisor::Device> hotplugged) {
    if (!spec_ || !qmp_) co_return;
    hotplug_ =
        std::make_unique<hypervisor::Hotplug>(qmp_->client(), hypervisor::planSlots(*spec_), name_);
    hotplug_->restore(hotplugged);
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
        log(5, std::string(d.kindName()) + " " + d.id + " found in qemu at " + d.slot.toString() +
                   "; adopted");
        devices_.push_back(d);
    }
    persist();
    if (devicesObserver_) devicesObserver_();
}

asio::awaitable<std::optional<OpError>> QemuVm::recordDevice(hypervisor::Device record,
                                                             std::string address) {
    forgetDevice(record.id);
    devices_.push_back(record);
    auto unwritten = persist();
    if (!unwritten) {
        if (devicesObserver_) devicesObserver_();
        co_return std::nullopt;
    }
    // A device missing from state.json would be unknown to the next corrald: take it out again.
    forgetDevice(record.id);
    auto generation = generation_;
    std::string id = record.id;
    auto undone = co_await hotplug_->detach(std::move(id), std::chrono::seconds(30));
    std::string what = std::string(record.kindName()) + " " + record.id;
    if (undone) {
        co_return OpError{ErrorKind::Failed, what + " not attached: " + *unwritten +
                                                 " (rolled back from " + address + ")"};
    }
    // Still in QEMU: list it, so Detach can be retried.
    if (generation == generation_) {
        devices_.push_back(std::move(record));
        if (devicesObserver_) devicesObserver_();
    }
    co_return OpError{ErrorKind::Failed, what + " attached at " + address +
                                             " but not recorded: " + *unwritten +
                                             "; rollback failed: " + undone.error().message};
}

void QemuVm::forgetDevice(const std::string& id) {
    std::erase_if(devices_, [&](const auto& d) { return d.id == id; });
}

asio::awaitable<Outcome<std::string>> QemuVm::attachSteps(hypervisor::Device device) {
    auto generation = generation_;
    auto result = co_await hotplug_->attach(std::move(device));
    if (!result) co_return toOpError(result.error(), Channel::Monitor);
    if (generation != generation_) co_return exitedDuringHotplug(name_);
    auto address = result->slot.toString();
    std::string what = std::string(result->kindName()) + " " + result->id;
    if (!result->backend.empty()) what += " (" + result->backend + ")";
    auto failed = co_await recordDevice(std::move(*result), address);
    if (failed) co_return *failed;
    log(5, what + " attached at " + address);
    co_return address;
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
    if (devicesObserver_) devicesObserver_();
    log(5, "device " + id + " detached");
    co_return Unit{};
}

void QemuVm::attachDevice(hypervisor::Device device, Reply<std::string> reply) {
    if (auto error = instance_.checkUsable()) return reply(*error);
    if (!hotplug_) return reply(noHotplug(name_));
    run<std::string>(attachSteps(std::move(device)), std::move(reply));
}

void QemuVm::detach(std::string id, Done done) {
    if (auto error = instance_.checkUsable()) return done(*error);
    if (!hotplug_) return done(noHotplug(name_));
    run<Unit>(detachSteps(std::move(id)), std::move(done));
}

}  // namespace corral::supervisor

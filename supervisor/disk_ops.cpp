// ResizeDisk and SetDiskLimits on a VM: the checks that need the VM's device records and qemu,
// then hypervisor::growDisk / applyLimits. Only a running qemu can grow a disk: with the VM
// stopped corrald does not own the image (the definition names a file the administrator
// manages), so it refuses and says how to grow the file by hand. Live limits go into the device
// records (state.json), which a restarted corrald reads and a reboot or a migration launches
// from; the definition keeps its own for the next start.
#include <algorithm>
#include <chrono>

#include "supervisor/disk_ops.hpp"

#include "hypervisor/disk_limits.hpp"
#include "hypervisor/disk_resize.hpp"
#include "supervisor/qemu_vm.hpp"
#include "supervisor/qmp_link.hpp"
#include "supervisor/running_qemu.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;

namespace {

constexpr auto kUnplugTimeout = std::chrono::seconds(30);

bool isDisk(const hypervisor::Device& device) {
    return device.kind && device.kind->backend == hypervisor::Backend::Block;
}

// The disks sharing `disk`'s throttle group, `disk` included.
std::vector<hypervisor::Device*> groupOf(const hypervisor::Device& disk,
                                         std::vector<hypervisor::Device>& devices) {
    std::vector<hypervisor::Device*> members;
    auto group = hypervisor::throttleGroupOf(disk);
    for (auto& device : devices)
        if (isDisk(device) && hypervisor::throttleGroupOf(device) == group)
            members.push_back(&device);
    return members;
}

void setLimitOptions(hypervisor::Options& options,
                     const std::map<std::string, std::uint64_t, std::less<>>& limits) {
    for (const auto& limit : hypervisor::kLimitKeys) options.erase(std::string(limit.key));
    for (const auto& [key, value] : limits) options.insert_or_assign(key, std::to_string(value));
}

}  // namespace

asio::awaitable<std::optional<std::string>> applyDiskLimits(std::shared_ptr<QmpLink> link,
                                                            std::vector<hypervisor::Device> devices,
                                                            bool everyDisk) {
    auto client = qmpClientOf(*link);
    for (const auto& device : devices) {
        if (!isDisk(device) || (!everyDisk && !hypervisor::hasLimits(device))) continue;
        if (!client) co_return "no block_set_io_throttle over this link";
        auto set = co_await hypervisor::applyLimits(*client, device);
        if (!set) co_return "I/O limits of disk " + device.id + ": " + set.error().message;
    }
    co_return std::nullopt;
}

std::optional<OpError> joinThrottleGroup(hypervisor::Device& device,
                                         const std::vector<hypervisor::Device>& devices,
                                         const std::string& name) {
    if (!isDisk(device) || device.text(hypervisor::kThrottleGroupKey).empty()) return std::nullopt;
    auto group = hypervisor::throttleGroupOf(device);
    for (const auto& member : devices) {
        if (!isDisk(member) || hypervisor::throttleGroupOf(member) != group) continue;
        auto theirs = hypervisor::limitsOf(member);
        auto mine = hypervisor::limitsOf(device);
        if (mine.empty()) {
            setLimitOptions(device.options, theirs);
            return std::nullopt;
        }
        if (mine == theirs) return std::nullopt;
        return OpError{ErrorKind::InvalidArgument,
                       name + ": throttle group " + group + " has the limits of disk " + member.id +
                           "; give the same limits or none (then it shares them)."};
    }
    return std::nullopt;
}

asio::awaitable<std::optional<OpError>> RunningQemu::limitAttached(
    std::shared_ptr<HotplugControl> hotplug, const hypervisor::Device& device) {
    if (!isDisk(device) || !hypervisor::hasLimits(device)) co_return std::nullopt;
    std::vector<hypervisor::Device> one(1, device);
    auto problem = co_await life_.guard(applyDiskLimits(qmp_, std::move(one)));
    if (!problem) co_return std::nullopt;
    std::string id = device.id;
    auto undone = co_await life_.guard(hotplug->detach(std::move(id), kUnplugTimeout));
    std::string unplug = undone ? "; it was unplugged again" : "; unplugging it failed too";
    co_return OpError{ErrorKind::Failed, name_ + ": " + *problem + unplug + "."};
}

asio::awaitable<Outcome<Unit>> RunningQemu::limitSteps(std::vector<hypervisor::Device> members) {
    if (auto client = qmpClientOf(*qmp_))
        if (auto busy = co_await migrationRefusal(*client)) co_return *busy;
    // The records first: if corrald dies before QEMU has the limits, the next one applies the
    // records when it takes over (takeOver), so records and QEMU agree either way.
    std::vector<hypervisor::Device> before;
    auto record = [&](const std::vector<hypervisor::Device>& from) {
        for (const auto& member : from)
            for (auto& device : state_.devices)
                if (device.id == member.id) device.options = member.options;
    };
    for (const auto& member : members)
        for (const auto& device : state_.devices)
            if (device.id == member.id) before.push_back(device);
    record(members);
    if (auto unwritten = persist()) {
        record(before);
        co_return OpError{ErrorKind::Failed, name_ + ": " + *unwritten + "; nothing was changed."};
    }
    // Each member's call sets the group's limits; a member left without limits gets rates 0,
    // which lifts its throttling.
    auto problem = co_await life_.guard(applyDiskLimits(qmp_, members, true));
    if (problem) {
        record(before);
        persist();
        auto restored = co_await life_.guard(applyDiskLimits(qmp_, before, true));
        co_return OpError{ErrorKind::Failed,
                          name_ + ": " + *problem +
                              (restored ? "; some disks of the group may have the new limits"
                                        : "; the previous limits are back") +
                              "."};
    }
    log(5, "I/O limits of disk " + members.front().id + " changed");
    co_return Unit{};
}

void RunningQemu::setDiskLimits(std::string id, std::map<std::string, std::uint64_t> changes,
                                Done done) {
    if (!qmp_)
        return done(OpError{ErrorKind::MonitorUnavailable, name_ + " has no QMP connection yet."});
    if (auto error = checkMonitor()) return done(*error);
    auto device = std::find_if(state_.devices.begin(), state_.devices.end(),
                               [&](const auto& d) { return d.id == id; });
    if (device == state_.devices.end())
        return done(OpError{ErrorKind::InvalidArgument, name_ + " has no device " + id + "."});
    if (!isDisk(*device))
        return done(OpError{ErrorKind::InvalidArgument,
                            name_ + ": " + id + " is a " + std::string(device->kindName()) +
                                ", not a disk; only disks have I/O limits."});
    auto limits = hypervisor::limitsOf(*device);
    for (const auto& [key, value] : changes) {
        if (value == 0)
            limits.erase(key);
        else
            limits.insert_or_assign(key, value);
    }
    hypervisor::Options wanted;
    setLimitOptions(wanted, limits);
    if (auto problem = hypervisor::limitsProblem(wanted))
        return done(OpError{ErrorKind::InvalidArgument,
                            name_ + ": disk " + id + ": " + *problem + "; nothing was changed."});
    std::vector<hypervisor::Device> members;
    for (auto* member : groupOf(*device, state_.devices)) {
        members.push_back(*member);
        setLimitOptions(members.back().options, limits);
    }
    life_.run<Unit>(limitSteps(std::move(members)), std::move(done),
                    exitedDuring("the change of I/O limits"));
}

void QemuVm::setDiskLimits(std::string id, std::map<std::string, std::uint64_t> changes,
                           Done done) {
    if (!running_) {
        return done(OpError{ErrorKind::InvalidState,
                            name_ + " is not running; SetDiskLimits changes the limits of a "
                                    "running VM (set them in its definition for the next start)."});
    }
    if (auto error = instance_.checkUsable()) return done(*error);
    running_->setDiskLimits(std::move(id), std::move(changes), std::move(done));
}

asio::awaitable<std::optional<OpError>> RunningQemu::migrationRefusal(monitor::QmpClient& client) {
    auto busy = co_await life_.guard(hypervisor::migrating(client));
    if (!busy) co_return toOpError(busy.error(), Channel::Monitor);
    if (!*busy) co_return std::nullopt;
    co_return OpError{ErrorKind::InvalidState, name_ +
                                                   " is being migrated; change its disks "
                                                   "before or after the migration."};
}

asio::awaitable<Outcome<Unit>> RunningQemu::resizeSteps(std::string id, std::uint64_t bytes) {
    auto client = qmpClientOf(*qmp_);
    if (!client)
        co_return OpError{ErrorKind::NotSupported, name_ + ": no block_resize over this link."};
    if (auto busy = co_await migrationRefusal(*client)) co_return *busy;
    auto current = co_await life_.guard(hypervisor::diskSize(*client, id));
    if (!current) co_return toOpError(current.error(), Channel::Monitor);
    if (auto refused = hypervisor::sizeRefusal(id, *current, bytes)) {
        auto kind = refused->alreadyThere ? ErrorKind::InvalidState : ErrorKind::InvalidArgument;
        co_return OpError{kind, name_ + ": " + refused->reason + "; nothing was changed."};
    }
    auto grown = co_await life_.guard(hypervisor::growDisk(*client, id, bytes));
    if (!grown) co_return toOpError(grown.error(), Channel::Monitor);
    log(5, "disk " + id + " grown from " + std::to_string(*current) + " to " +
               std::to_string(bytes) + " bytes");
    co_return Unit{};
}

void RunningQemu::resizeDisk(std::string id, std::uint64_t bytes, Done done) {
    if (!qmp_)
        return done(OpError{ErrorKind::MonitorUnavailable, name_ + " has no QMP connection yet."});
    if (auto error = checkMonitor()) return done(*error);
    auto device = std::find_if(state_.devices.begin(), state_.devices.end(),
                               [&](const auto& d) { return d.id == id; });
    if (device == state_.devices.end())
        return done(OpError{ErrorKind::InvalidArgument, name_ + " has no device " + id + "."});
    if (auto refused = hypervisor::resizeRefusal(*device))
        return done(OpError{ErrorKind::InvalidArgument, name_ + ": " + *refused + "."});
    life_.run<Unit>(resizeSteps(std::move(id), bytes), std::move(done),
                    exitedDuring("the disk resize"));
}

void QemuVm::resizeDisk(std::string id, std::uint64_t bytes, Done done) {
    if (!running_) {
        return done(OpError{ErrorKind::InvalidState,
                            name_ + " is not running; ResizeDisk grows the disks of a running VM "
                                    "(grow the image of a stopped one with qemu-img resize)."});
    }
    if (auto error = instance_.checkUsable()) return done(*error);
    running_->resizeDisk(std::move(id), bytes, std::move(done));
}

}  // namespace corral::supervisor

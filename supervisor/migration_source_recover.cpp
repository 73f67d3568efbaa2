// MigrationSource after a corrald restart (a migration a previous corrald left in the middle)
// and CancelMigration.
#include "supervisor/migration_marker.hpp"
#include "supervisor/migration_source.hpp"
#include "supervisor/migration_source_run.hpp"
#include "supervisor/qmp_link.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;
using namespace migration_run;

void MigrationSource::recover(Vm& vm) {
    auto mark = readMigratingMark(context_.stateRoot, vm.name());
    if (!mark) return;
    auto state = vm.lifecycle().state();
    if (state != State::Running && state != State::Paused) {
        removeMigratingMark(context_.stateRoot, vm.name());
        return;
    }
    auto run = std::make_shared<Run>();
    run->name = vm.name();
    run->vm = &vm;
    run->destination = mark->destination;
    run->wasRunning = mark->wasRunning;
    runs_[run->name] = run;
    if (mark->switching) {
        run->switching = true;
        run->status.state = "completing";
        log(4, run->name + ": corrald restarted during the switchover to " + run->destination +
                   "; asking it where the VM runs");
        life_.run<Unit>(settleSwitch(run), completion(run, [](Status) {}),
                        failed("corrald is stopping"));
        return;
    }
    log(4, run->name + ": corrald restarted during its migration to " + run->destination +
               "; ending it with the VM here");
    life_.run<Unit>(recoverSteps(run), completion(run, [](Status) {}),
                    failed("corrald is stopping"));
}

asio::awaitable<Outcome<Unit>> MigrationSource::recoverSteps(std::shared_ptr<Run> run) {
    auto cancel = co_await qmp(run, R"({"execute":"migrate_cancel"})");
    if (!cancel) log(4, run->name + ": migrate_cancel: " + cancel.error().message);
    auto deadline = context_.clock.now() + kCancelWindow;
    while (context_.clock.now() < deadline) {
        auto reply = co_await qmp(run, R"({"execute":"query-migrate"})");
        auto query =
            reply ? parseMigrationQuery(reply.value()) : Outcome<MigrationQuery>(reply.error());
        if (!query) break;
        const std::string status = query.value().status;
        if (status != "active" && status != "setup" && status != "cancelling" &&
            status != "device" && status != "pre-switchover")
            break;
        co_await life_.sleep(kPoll);
    }
    // A storage copy's mirrors go with the stream (stayHere ends whatever this qemu has).
    run->storage = storageCopyOf(run, {});
    // The destination first: after a completed stream its qemu holds the disks' locks.
    auto remote = RemoteCorrald::open(io_, run->destination);
    if (remote) run->remote = remote.value();
    std::string why = "corrald restarted during the migration";
    co_return co_await stayHere(run, kFailed, why);
}

Status MigrationSource::cancel(const Vm& vm) {
    auto it = runs_.find(vm.name());
    if (it == runs_.end() || !it->second->active)
        return OpError{ErrorKind::InvalidState, vm.name() + " is not being migrated."};
    auto& run = *it->second;
    if (run.switching)
        return OpError{ErrorKind::Busy, vm.name() + " is switching over; too late to cancel."};
    run.cancelled = true;
    if (run.stopWhy.empty()) run.stopWhy = "cancelled";
    run.wake.emit();
    return okStatus();
}

}  // namespace corral::supervisor

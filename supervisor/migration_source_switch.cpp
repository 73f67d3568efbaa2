// MigrationSource's switchover: FinishIncoming on the destination, then the VM here is stopped
// as "migrated to"; and the same end after a postcopy phase (docs/architecture.md "Postcopy").
#include "supervisor/migration_marker.hpp"
#include "supervisor/migration_postcopy.hpp"
#include "supervisor/migration_remote.hpp"
#include "supervisor/migration_source.hpp"
#include "supervisor/migration_source_run.hpp"
#include "supervisor/qmp_link.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;
using namespace migration_run;

void MigrationSource::markSwitching(Run& run) {
    run.switching = true;
    if (auto error = writeMigratingMark(context_.stateRoot, run.name,
                                        {run.destination, run.wasRunning, true}))
        log(4, run.name + ": " + *error);
}

asio::awaitable<RemoteReply> MigrationSource::finishIncoming(std::shared_ptr<Run> run) {
    co_return co_await life_.guard(run->remote->call(
        "FinishIncoming",
        [&](sd_bus_message* m) {
            return sd_bus_message_append(m, "sa{sv}", run->name.c_str(), 1, "resume", "b",
                                         static_cast<int>(run->wasRunning));
        },
        kFinishTimeout));
}

asio::awaitable<Outcome<Unit>> MigrationSource::departed(std::shared_ptr<Run> run) {
    if (auto error = writeMigratedMarker(context_.stateRoot, run->name, run->destination))
        log(3, run->name + ": " + *error + "; a corrald restart would not know it moved");
    if (run->vm)
        run->vm->lifecycle().migratedAway(run->destination, [this, name = run->name](Status s) {
            if (!s) log(4, name + ": quit after the migration: " + s.error().message);
        });
    // Migrate answers once the qemu here is gone too (bounded: quit is QEMU's fastest way out;
    // a qemu that does not leave is the exit watch's business, not the reply's).
    auto gone = context_.clock.now() + kQuitWindow;
    while (run->vm && run->vm->lifecycle().state() != State::Stopped && context_.clock.now() < gone)
        co_await life_.sleep(kQuitPoll);
    setState(*run, "completed");
    log(5, run->name + ": migrated to " + run->destination + " (downtime " +
               std::to_string(run->status.progress.downtimeMs) + " ms)");
    co_return Unit{};
}

asio::awaitable<Outcome<Unit>> MigrationSource::switchover(std::shared_ptr<Run> run) {
    setState(*run, "completing");
    markSwitching(*run);
    auto finished = co_await finishIncoming(run);
    if (finished.ok()) co_return co_await departed(run);
    auto why = finished.errorMessage.empty() ? finished.errorName : finished.errorMessage;
    if (finished.definite()) {
        // The destination said no and dropped its qemu: the VM goes on here.
        run->gone.disconnect();
        asio::post(io_, [remote = std::move(run->remote)] {});
        std::string reason = "the destination could not take over: " + why;
        co_return co_await stayHere(run, kFailed, reason);
    }
    setState(*run, "failed");
    run->unconfirmed = true;
    co_return failed("The destination " + run->destination + " did not confirm the switchover (" +
                     why + "). " + run->name +
                     " stays paused here so that it never runs twice: check whether it runs on " +
                     run->destination + "; Resume it here only if it does not.");
}

// Postcopy: from migrate-start-postcopy on, the VM never runs here again. Before the destination
// resumes the guest (FinishIncoming) its RAM here is still whole, but QEMU 7.2 offers no way back
// from postcopy-active, so every failure from here leaves it paused here with the record saying
// so (like an unconfirmed switchover).
asio::awaitable<Outcome<Unit>> MigrationSource::startPostcopy(std::shared_ptr<Run> run) {
    markSwitching(*run);
    run->postcopy = true;
    log(5, run->name + ": switching to postcopy");
    auto started = co_await qmp(run, R"({"execute":"migrate-start-postcopy"})");
    if (!started) co_return failed("migrate-start-postcopy: " + started.error().message);
    co_return Unit{};
}

asio::awaitable<Outcome<Unit>> MigrationSource::finishPostcopy(std::shared_ptr<Run> run) {
    setState(*run, "postcopy");
    auto finished = co_await finishIncoming(run);
    if (finished.ok()) co_return co_await drainPostcopy(run);
    co_return postcopyLost(
        *run, "the destination did not take it over (" +
                  (finished.errorMessage.empty() ? finished.errorName : finished.errorMessage) +
                  ")");
}

OpError MigrationSource::postcopyLost(Run& run, const std::string& why) {
    setState(run, "failed");
    run.unconfirmed = true;
    return failed("Postcopy migration of " + run.name + " to " + run.destination +
                  " failed: " + why +
                  ". Its memory is split between both hosts: it stays paused here and must not "
                  "be resumed here; check whether it runs on " +
                  run.destination + ".");
}

// A corrald restarted after the switchover began asks the destination where the VM is: there
// (the source qemu goes, after the rest of a postcopy stream), not there (it goes on here), or
// unknown (it stays paused here, as before).
asio::awaitable<Outcome<Unit>> MigrationSource::settleSwitch(std::shared_ptr<Run> run) {
    auto own = co_await qmp(run, R"({"execute":"query-migrate"})");
    auto query = own ? parseMigrationQuery(own.value()) : Outcome<MigrationQuery>(own.error());
    const bool postcopy = query && query.value().status.rfind("postcopy", 0) == 0;
    std::string where;
    auto remote = RemoteCorrald::open(io_, run->destination);
    if (remote) run->remote = remote.value();
    auto deadline = context_.clock.now() + kFinishTimeout;
    while (run->remote) {
        auto reply = co_await life_.guard(run->remote->call(
            "IncomingState",
            [&](sd_bus_message* m) { return sd_bus_message_append(m, "s", run->name.c_str()); },
            kAbortTimeout));
        const char* text = nullptr;
        if (!reply.ok() || sd_bus_message_read(reply.message.get(), "s", &text) < 0 || !text) break;
        where = text;
        if (where != "finishing" || context_.clock.now() >= deadline) break;
        co_await life_.sleep(kPoll);
    }
    log(5, run->name + ": after the restart, " + run->destination + " says '" +
               (where.empty() ? std::string("nothing") : where) + "'");
    if (where == "arrived") {
        if (postcopy) co_return co_await drainPostcopy(run);
        co_return co_await departed(run);
    }
    if ((where == "waiting" || where == "none") && !postcopy) {
        // The Finish never took effect there, and this qemu still has the whole VM.
        run->switching = false;
        std::string why = "corrald restarted during the switchover, and " + run->destination +
                          " had not resumed it";
        co_return co_await stayHere(run, kFailed, why);
    }
    if (postcopy) co_return postcopyLost(*run, "corrald restarted during postcopy");
    setState(*run, "failed");
    run->unconfirmed = true;
    co_return failed("corrald restarted during the switchover to " + run->destination +
                     ", which cannot say where " + run->name + " runs; check whether " + run->name +
                     " runs there before resuming it here");
}

}  // namespace corral::supervisor

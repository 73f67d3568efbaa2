// MigrationSource: begin, prepare (on the destination), perform, finish (on the destination) and
// confirm, with every failure before the switchover ending with the VM running here.
#include "supervisor/migration_source.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "hypervisor/runtime_dir.hpp"
#include "supervisor/migration_marker.hpp"
#include "supervisor/migration_postcopy.hpp"
#include "supervisor/migration_remote.hpp"
#include "supervisor/migration_source_run.hpp"
#include "supervisor/migration_storage.hpp"
#include "supervisor/migration_tls.hpp"
#include "supervisor/qmp_link.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace migration_run;

namespace {

std::string stateOf(const std::string& qemuStatus) {
    if (qemuStatus == "device" || qemuStatus == "pre-switchover") return "completing";
    return "active";
}

}  // namespace

MigrationSource::MigrationSource(VmContext& context, Registry& registry, asio::io_context& io,
                                 MigrationSettings settings)
    : context_(context),
      settings_(std::move(settings)),
      registry_(registry),
      io_(io),
      life_(context.executor, context.clock, [log = context.log](const std::string& what) {
          if (log) log(3, "migration: " + what);
      }) {
    removing_ = registry_.removing().connect([this](Vm& vm) {
        if (auto it = runs_.find(vm.name()); it != runs_.end()) {
            it->second->vm = nullptr;
            it->second->wake.emit();
        }
    });
}

MigrationSource::~MigrationSource() = default;

void MigrationSource::log(int priority, const std::string& text) const {
    if (context_.log) context_.log(priority, text);
}

MigrationStatus MigrationSource::status(const std::string& name) const {
    auto it = runs_.find(name);
    return it == runs_.end() ? MigrationStatus{} : it->second->status;
}

void MigrationSource::setState(Run& run, std::string state) {
    if (run.status.state == state) return;
    run.status.state = std::move(state);
    changed_.emit(run.name);
}

void MigrationSource::migrate(Vm& vm, std::string destination, MigrateOptions options, Done done) {
    if (auto it = runs_.find(vm.name()); it != runs_.end() && it->second->active)
        return done(OpError{ErrorKind::Busy, vm.name() + " is already being migrated to " +
                                                 it->second->destination + "."});
    if (auto error = vm.lifecycle().checkUsable()) return done(*error);
    if (auto error = snapshotsRefusal(context_.stateRoot / vm.name(), vm.name()))
        return done(*error);
    auto run = std::make_shared<Run>();
    run->name = vm.name();
    run->vm = &vm;
    run->destination = std::move(destination);
    run->options = options;
    run->wasRunning = vm.lifecycle().state() == State::Running;
    runs_[run->name] = run;
    if (auto error = writeMigratingMark(context_.stateRoot, run->name,
                                        {run->destination, run->wasRunning, false}))
        log(4, run->name + ": " + *error + "; a corrald restart would not know of the migration");
    setState(*run, "preparing");
    log(5, run->name + ": migrating to " + run->destination);
    life_.run<Unit>(
        steps(run), completion(run, std::move(done)),
        failed("corrald is stopping; the migration of " + vm.name() + " was abandoned"));
}

std::function<void(Status)> MigrationSource::completion(std::shared_ptr<Run> run, Done done) {
    return [this, run, done = std::move(done)](Status status) {
        run->active = false;
        run->gone.disconnect();
        run->events.disconnect();
        // The connection is closed from the loop, never from inside one of its callbacks.
        asio::post(io_, [remote = std::move(run->remote)] {});
        // An unconfirmed switchover keeps its record: a restarted corrald says so again.
        if (!run->unconfirmed) removeMigratingMark(context_.stateRoot, run->name);
        if (!status) {
            run->status.error = status.error().message;
            if (run->status.state != "cancelled") setState(*run, "failed");
            log(4, run->name + ": migration to " + run->destination +
                       " failed: " + status.error().message);
        }
        done(status);
    };
}

asio::awaitable<Outcome<std::string>> MigrationSource::qmp(std::shared_ptr<Run> run,
                                                           std::string json) {
    if (!run->vm) co_return failed(run->name + " was removed during its migration");
    Vm* vm = run->vm;
    auto initiate = [vm, json = std::move(json), &io = io_](auto handler) mutable {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        vm->monitor(std::move(json), [shared, &io](Outcome<std::string> result) {
            asio::post(io, [shared, result = std::move(result)]() mutable {
                (*shared)(std::move(result));
            });
        });
    };
    co_return co_await life_.guard(
        asio::async_initiate<decltype(asio::use_awaitable), void(Outcome<std::string>)>(
            std::move(initiate), asio::use_awaitable));
}

asio::awaitable<Outcome<Unit>> MigrationSource::steps(std::shared_ptr<Run> run) {
    // MIGRATION and the mirrors' BLOCK_JOB_* events wake the loops that poll QEMU.
    std::weak_ptr<Run> weak = run;
    run->events = run->vm->migrationEvents().connect([weak](const std::string&) {
        if (auto run = weak.lock()) {
            run->eventSeen = true;
            run->wake.emit();
        }
    });
    if (run->options.tls) {
        if (auto missing = checkTlsDir(settings_.tlsDir, false)) {
            setState(*run, "failed");
            co_return failed("Migrate: " + *missing + ".");
        }
        std::string problem;
        auto paths = hypervisor::RuntimePaths::forInstance(context_.runtimeRoot, run->name);
        if (auto state = hypervisor::readState(paths, problem)) {
            if (auto why = confinedTlsProblem(state->argv, false)) {
                setState(*run, "failed");
                co_return failed("Migrate: " + run->name + ": " + *why + ".");
            }
            run->tlsPreloaded = tlsCredsOnCommandLine(state->argv, false);
        }
    }
    if (run->options.copyStorage) {
        auto sized = co_await copyStorageSetup(run);
        if (!sized) {
            setState(*run, "failed");
            co_return sized.error();
        }
    }
    auto uri = co_await prepare(run);
    if (!uri) {
        setState(*run, "failed");
        co_return uri.error();
    }
    std::string stream = uri.value();
    if (run->storage) {
        auto copied = co_await copyStorage(run, uri.value());
        if (!copied) co_return copied.error();
        stream = copied.value();
    }
    auto performed = co_await perform(run, stream);
    if (!performed) co_return performed.error();
    if (run->postcopy) co_return co_await finishPostcopy(run);
    co_return co_await switchover(run);
}

asio::awaitable<Outcome<Unit>> MigrationSource::perform(std::shared_ptr<Run> run, std::string uri) {
    const auto& o = run->options;
    std::string caps = R"({"execute":"migrate-set-capabilities","arguments":{"capabilities":[)"
                       R"({"capability":"events","state":true},)"
                       // Storage copy ends the mirrors at QEMU's pause before the switchover.
                       R"({"capability":"pause-before-switchover","state":)" +
                       std::string(run->storage ? "true" : "false") + "}," +
                       R"({"capability":"auto-converge","state":)" +
                       std::string(o.autoConverge ? "true" : "false") + "}," +
                       R"({"capability":"postcopy-ram","state":)" +
                       std::string(o.postcopy != PostcopyMode::Never ? "true" : "false") + "}]}}";
    // tls-creds always: QEMU keeps what an earlier migration of this qemu set.
    std::string params =
        tlsParameterJson(o.tls, run->tlsPreloaded ? kMigrationTlsClientId : kMigrationTlsId);
    if (o.bandwidth) params += R"(,"max-bandwidth":)" + std::to_string(*o.bandwidth);
    // Always: QEMU keeps an earlier migration's value (0 is unlimited).
    params += R"(,"max-postcopy-bandwidth":)" + std::to_string(o.postcopyBandwidth.value_or(0));
    if (o.downtimeMs) params += R"(,"downtime-limit":)" + std::to_string(*o.downtimeMs);
    std::vector<std::string> setup = {caps};
    if (o.tls && !run->tlsPreloaded) {
        // An earlier migration with tls left the object behind: replace it (files may be new).
        std::string del = std::string(R"({"execute":"object-del","arguments":{"id":")") +
                          kMigrationTlsId + "\"}}";
        auto removed = co_await qmp(run, del);
        (void)removed;
        setup.push_back(tlsCredsAddJson(settings_.tlsDir, false));
    }
    setup.push_back(R"({"execute":"migrate-set-parameters","arguments":{)" + params + "}}");
    setup.push_back(R"({"execute":"migrate","arguments":{"uri":")" + uri + R"("}})");
    // Every way out before the switchover goes through one stayHere() with named arguments:
    // g++ 12 destroys temporaries built inside a co_await expression (a conditional's) twice.
    std::string endState, endWhy;
    for (const auto& command : setup) {
        auto result = co_await qmp(run, command);
        if (!result) {
            endState = kFailed;
            endWhy = "QMP: " + result.error().message;
            break;
        }
    }
    if (endState.empty()) setState(*run, "active");
    PostcopySwitch postcopy(o.postcopy);
    auto started = context_.clock.now();
    auto cancelDeadline = TimePoint::max();
    bool cancelSent = false;
    while (endState.empty()) {
        run->eventSeen = false;
        auto reply = co_await qmp(run, R"({"execute":"query-migrate"})");
        auto query =
            reply ? parseMigrationQuery(reply.value()) : Outcome<MigrationQuery>(reply.error());
        if (!query) {
            endState = kFailed;
            endWhy = "query-migrate: " + query.error().message;
            break;
        }
        auto storage = run->status.progress;
        run->status.progress = query.value().progress;
        run->status.progress.storageTransferred = storage.storageTransferred;
        run->status.progress.storageTotal = storage.storageTotal;
        const std::string status = query.value().status;
        if (status == "pre-switchover" && run->storage && !run->storageEnded &&
            run->stopWhy.empty()) {
            auto ended = co_await completeStorage(run);
            if (!ended) {
                endState = kFailed;
                endWhy = ended.error().message;
                break;
            }
            continue;
        }
        // From migrate-start-postcopy on, finishPostcopy() follows it
        // (migration_source_switch.cpp).
        if (run->postcopy &&
            (status.rfind("postcopy", 0) == 0 || status == "completed" || status == "failed"))
            break;
        if (status == "active" && !run->postcopy && run->stopWhy.empty() &&
            postcopy.observe(query.value().dirtySyncCount, query.value().progress.remaining)) {
            if (o.postcopy == PostcopyMode::Auto)
                log(5, run->name + ": precopy does not converge (" +
                           std::to_string(query.value().progress.remaining >> 20) +
                           " MiB left after pass " + std::to_string(query.value().dirtySyncCount) +
                           ")");
            auto switched = co_await startPostcopy(run);
            if (!switched) {
                // QEMU refused the switch: still precopy, the VM still whole here.
                run->postcopy = run->switching = false;
                if (auto error = writeMigratingMark(context_.stateRoot, run->name,
                                                    {run->destination, run->wasRunning, false}))
                    log(4, run->name + ": " + *error);
                endState = kFailed;
                endWhy = switched.error().message;
                break;
            }
            continue;
        }
        if (status == "completed") {
            // Everything was sent, but a destination that is gone cannot take over.
            if (!run->stopWhy.empty() && !run->cancelled) {
                endState = kFailed;
                endWhy = run->stopWhy;
            }
            break;
        }
        if (status == "failed" || status == "cancelled") {
            endState = status == "failed" ? kFailed : kCancelled;
            endWhy = run->stopWhy;
            if (endWhy.empty() && status == "cancelled") endWhy = "cancelled in QEMU";
            if (endWhy.empty())
                endWhy =
                    "QEMU: " + (query.value().error.empty() ? std::string("the migration failed")
                                                            : query.value().error);
            break;
        }
        if (status != "cancelling") setState(*run, stateOf(status));
        changed_.emit(run->name);
        if (o.timeout.count() > 0 && run->stopWhy.empty() && !run->postcopy &&
            context_.clock.now() - started >= o.timeout)
            run->stopWhy =
                "it did not converge within " + std::to_string(o.timeout.count()) + " s (timeout)";
        if (!run->vm) run->stopWhy = run->name + " was removed";
        if (!run->stopWhy.empty() && !cancelSent && !run->postcopy) {
            cancelSent = true;
            cancelDeadline = context_.clock.now() + kCancelWindow;
            log(5, run->name + ": cancelling the migration: " + run->stopWhy);
            auto cancel = co_await qmp(run, R"({"execute":"migrate_cancel"})");
            if (!cancel) log(4, run->name + ": migrate_cancel: " + cancel.error().message);
        }
        if (context_.clock.now() >= cancelDeadline) {
            endState = kFailed;
            endWhy = run->stopWhy + "; QEMU did not cancel within 30 s";
            break;
        }
        if (!run->eventSeen) co_await life_.sleep(kPoll, run->wake);
    }
    if (!endState.empty()) co_return co_await stayHere(run, endState, endWhy);
    co_return Unit{};
}

asio::awaitable<Outcome<Unit>> MigrationSource::stayHere(std::shared_ptr<Run> run,
                                                         std::string state, std::string why) {
    // The mirrors go (the source's disks untouched), the destination drops its qemu (after a
    // completed stream it holds the disks' locks), then the vCPUs the migration's last pass may
    // have stopped go on here.
    if (run->storage) co_await run->storage->abandon();
    if (run->remote) {
        auto aborted = co_await life_.guard(run->remote->call(
            "AbortIncoming",
            [&](sd_bus_message* m) { return sd_bus_message_append(m, "s", run->name.c_str()); },
            kAbortTimeout));
        if (!aborted.ok() && aborted.errorName != "org.corral1.Error.NoSuchInstance")
            log(4,
                run->name + ": AbortIncoming on " + run->destination + ": " + aborted.errorMessage);
    }
    if (run->wasRunning && run->vm && run->vm->lifecycle().state() == State::Paused) {
        auto cont = co_await qmp(run, R"({"execute":"cont"})");
        if (!cont) why += "; cont failed: " + cont.error().message;
    }
    setState(*run, state);
    co_return OpError{ErrorKind::Failed, "Migration of " + run->name + " to " + run->destination +
                                             " " + (state == "cancelled" ? "cancelled" : "failed") +
                                             ": " + why + "; " + run->name + " runs here."};
}

}  // namespace corral::supervisor

// MigrationSource: begin, prepare (on the destination), perform, finish (on the destination) and
// confirm, with every failure before the switchover ending with the VM running here.
#include "supervisor/migration_source.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>

#include "hypervisor/runtime_dir.hpp"
#include "supervisor/migration_marker.hpp"
#include "supervisor/migration_remote.hpp"
#include "supervisor/migration_source_run.hpp"
#include "supervisor/migration_storage.hpp"
#include "supervisor/migration_tls.hpp"
#include "supervisor/qmp_link.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// query-migrate, and so MigrationProgress, at most 2/s; a MIGRATION event (QEMU's "events"
// capability) ends the wait at once, so the switchover does not wait for the next poll.
constexpr auto kPoll = 500ms;
constexpr auto kPrepareTimeout = 60s;
constexpr auto kFinishTimeout = 30s;
constexpr auto kAbortTimeout = 10s;
constexpr auto kQuitWindow = 10s;
constexpr auto kQuitPoll = 50ms;
// After migrate_cancel, how long QEMU may take to say cancelled.
constexpr auto kCancelWindow = 30s;
// An incoming VM the destination keeps without news: the transfer's timeout and a margin.
constexpr std::uint64_t kIncomingMarginSeconds = 300;
constexpr std::uint64_t kIncomingDefaultSeconds = 3600;

const std::string kFailed = "failed";
const std::string kCancelled = "cancelled";

OpError failed(std::string text) {
    return {ErrorKind::Failed, std::move(text)};
}

// The destination's answer goes into QMP JSON: only what a tcp: URI contains.
bool plainUri(const std::string& uri) {
    if (uri.rfind("tcp:", 0) != 0 || uri.size() > 300) return false;
    for (char c : uri)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == ':' || c == '.' || c == '-' ||
              c == '[' || c == ']' || c == '_'))
            return false;
    return true;
}

// With storage copy: "tcp:HOST:PORT nbd:HOST:PORT".
bool answerUri(const std::string& uri, bool copy) {
    if (!copy) return plainUri(uri);
    auto parts = splitCopyUri(uri);
    return parts && plainUri(parts->stream) && plainUri("tcp:" + parts->nbdHost);
}

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
        run->active = false;
        run->status.state = "failed";
        run->status.error = "corrald restarted during the switchover to " + run->destination +
                            "; check whether " + run->name + " runs there before resuming it here";
        log(3, run->name + ": " + run->status.error);
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
    co_return co_await switchover(run);
}

asio::awaitable<Outcome<std::string>> MigrationSource::prepare(std::shared_ptr<Run> run) {
    auto text = registry_.definitionText(*run->vm);
    if (!text) co_return text.error();
    auto devices = hypervisor::devicesToJson(run->vm->devices());
    auto remote = RemoteCorrald::open(io_, run->destination);
    if (!remote) co_return remote.error();
    run->remote = remote.value();
    std::weak_ptr<Run> weak = run;
    run->gone = run->remote->gone().connect([weak] {
        auto run = weak.lock();
        if (!run) return;
        if (run->stopWhy.empty()) run->stopWhy = "the destination corrald went away";
        run->wake.emit();
    });
    std::uint64_t keep =
        run->options.timeout.count() > 0
            ? static_cast<std::uint64_t>(run->options.timeout.count()) + kIncomingMarginSeconds
            : kIncomingDefaultSeconds;
    const std::string copyDisks = diskSizesText(run->sizes);
    auto reply = co_await life_.guard(run->remote->call(
        "PrepareIncoming",
        [&](sd_bus_message* m) {
            if (!run->storage)
                return sd_bus_message_append(m, "sssa{sv}", run->name.c_str(), text.value().c_str(),
                                             devices.c_str(), 2, "timeout", "t", keep, "tls", "b",
                                             static_cast<int>(run->options.tls));
            return sd_bus_message_append(m, "sssa{sv}", run->name.c_str(), text.value().c_str(),
                                         devices.c_str(), 3, "timeout", "t", keep, "tls", "b",
                                         static_cast<int>(run->options.tls), "copy_disks", "s",
                                         copyDisks.c_str());
        },
        kPrepareTimeout));
    if (!reply.ok()) {
        if (!reply.definite()) {
            // It may have started a qemu before the answer was lost.
            co_await life_.guard(run->remote->call(
                "AbortIncoming",
                [&](sd_bus_message* m) { return sd_bus_message_append(m, "s", run->name.c_str()); },
                kAbortTimeout));
        }
        co_return failed("The destination " + run->destination + " did not take " + run->name +
                         ": " +
                         (reply.errorMessage.empty() ? reply.errorName : reply.errorMessage));
    }
    const char* uri = nullptr;
    if (sd_bus_message_read(reply.message.get(), "s", &uri) < 0 || !uri ||
        !answerUri(uri, run->storage != nullptr))
        co_return failed("The destination " + run->destination + " answered PrepareIncoming with " +
                         "no usable migration address");
    co_return std::string(uri);
}

asio::awaitable<Outcome<Unit>> MigrationSource::perform(std::shared_ptr<Run> run, std::string uri) {
    const auto& o = run->options;
    std::string caps = R"({"execute":"migrate-set-capabilities","arguments":{"capabilities":[)"
                       R"({"capability":"events","state":true},)"
                       // Storage copy ends the mirrors at QEMU's pause before the switchover.
                       R"({"capability":"pause-before-switchover","state":)" +
                       std::string(run->storage ? "true" : "false") + "}," +
                       R"({"capability":"auto-converge","state":)" +
                       std::string(o.autoConverge ? "true" : "false") + "}]}}";
    // tls-creds always: QEMU keeps what an earlier migration of this qemu set.
    std::string params =
        tlsParameterJson(o.tls, run->tlsPreloaded ? kMigrationTlsClientId : kMigrationTlsId);
    if (o.bandwidth) params += R"(,"max-bandwidth":)" + std::to_string(*o.bandwidth);
    if (o.downtimeMs) params += R"(,"downtime-limit":)" + std::to_string(*o.downtimeMs);
    std::weak_ptr<Run> weak = run;
    run->events = run->vm->migrationEvents().connect([weak](const std::string&) {
        if (auto run = weak.lock()) {
            run->eventSeen = true;
            run->wake.emit();
        }
    });
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
        if (o.timeout.count() > 0 && run->stopWhy.empty() &&
            context_.clock.now() - started >= o.timeout)
            run->stopWhy =
                "it did not converge within " + std::to_string(o.timeout.count()) + " s (timeout)";
        if (!run->vm) run->stopWhy = run->name + " was removed";
        if (!run->stopWhy.empty() && !cancelSent) {
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

asio::awaitable<Outcome<Unit>> MigrationSource::switchover(std::shared_ptr<Run> run) {
    setState(*run, "completing");
    run->switching = true;
    if (auto error = writeMigratingMark(context_.stateRoot, run->name,
                                        {run->destination, run->wasRunning, true}))
        log(4, run->name + ": " + *error);
    auto finished = co_await life_.guard(run->remote->call(
        "FinishIncoming",
        [&](sd_bus_message* m) {
            return sd_bus_message_append(m, "sa{sv}", run->name.c_str(), 1, "resume", "b",
                                         static_cast<int>(run->wasRunning));
        },
        kFinishTimeout));
    if (finished.ok()) {
        if (auto error = writeMigratedMarker(context_.stateRoot, run->name, run->destination))
            log(3, run->name + ": " + *error + "; a corrald restart would not know it moved");
        if (run->vm)
            run->vm->lifecycle().migratedAway(run->destination, [this, name = run->name](Status s) {
                if (!s) log(4, name + ": quit after the migration: " + s.error().message);
            });
        // Migrate answers once the qemu here is gone too (bounded: quit is QEMU's fastest way
        // out; a qemu that does not leave is the exit watch's business, not the reply's).
        auto gone = context_.clock.now() + kQuitWindow;
        while (run->vm && run->vm->lifecycle().state() != State::Stopped &&
               context_.clock.now() < gone)
            co_await life_.sleep(kQuitPoll);
        setState(*run, "completed");
        log(5, run->name + ": migrated to " + run->destination + " (downtime " +
                   std::to_string(run->status.progress.downtimeMs) + " ms)");
        co_return Unit{};
    }
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

}  // namespace corral::supervisor

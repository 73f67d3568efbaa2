// MigrationTarget: PrepareIncoming / FinishIncoming / AbortIncoming on the destination.
#include "supervisor/migration_target.hpp"

#include <unistd.h>

#include <csignal>

#include "hypervisor/confinement.hpp"
#include "hypervisor/runtime_dir.hpp"
#include "supervisor/definition_check.hpp"
#include "supervisor/disk_ops.hpp"
#include "supervisor/migration_incoming_checks.hpp"
#include "supervisor/migration_postcopy.hpp"
#include "supervisor/migration_storage.hpp"
#include "supervisor/migration_tls.hpp"
#include "supervisor/qemu_vm.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr auto kQmpConnectWindow = 10s;
// How long Finish waits for qemu to leave `inmigrate` once the source says it has sent all.
constexpr auto kArrivalWindow = 10s;
constexpr auto kArrivalPoll = 100ms;

OpError failed(std::string text) {
    return {ErrorKind::Failed, std::move(text)};
}

}  // namespace

struct MigrationTarget::Incoming {
    std::string name;
    std::string definition;
    hypervisor::InstanceSpec spec;
    std::vector<hypervisor::Device> devices;
    hypervisor::RuntimePaths paths;
    std::chrono::seconds timeout{0};
    bool tls = false;
    bool postcopy = false;  // capability postcopy-ram before migrate-incoming
    std::uint16_t port = 0;
    DiskSizes copyDisks;   // storage copy: the disks received over NBD
    CreatedImages images;  // and their images, removed unless it arrives
    std::uint16_t nbdPort = 0;
    std::optional<LaunchedQemu> qemu;
    std::shared_ptr<QmpLink> qmp;
    corral::Connection lost;
    std::unique_ptr<TimerHandle> deadline;
    bool finishing = false;
    bool discarded = false;
};

MigrationTarget::MigrationTarget(VmContext& context, Registry& registry, MigrationSettings settings)
    : context_(context),
      registry_(registry),
      settings_(std::move(settings)),
      life_(context.executor, context.clock, [log = context.log](const std::string& what) {
          if (log) log(3, "incoming migration: " + what);
      }) {}

MigrationTarget::~MigrationTarget() {
    for (auto& [name, in] : incoming_) {
        if (in->qmp) in->qmp->close();
        if (in->qemu) in->qemu->process->kill(SIGKILL);
        hypervisor::removeRuntimeDir(in->paths);
        removeImages(in->images);
    }
}

void MigrationTarget::log(int priority, const std::string& text) const {
    if (context_.log) context_.log(priority, text);
}

std::optional<std::uint16_t> MigrationTarget::freePort() const {
    for (unsigned port = settings_.portFirst; port <= settings_.portLast; ++port) {
        bool taken = false;
        for (const auto& [name, in] : incoming_)
            taken = taken || in->port == port || in->nbdPort == port;
        for (const auto& [name, recovering] : recovering_) taken = taken || recovering == port;
        if (!taken && portFree(settings_.listenAddress, static_cast<std::uint16_t>(port)))
            return static_cast<std::uint16_t>(port);
    }
    return std::nullopt;
}

std::string MigrationTarget::uriFor(std::uint16_t port) const {
    std::string host = settings_.listenAddress;
    if (isWildcard(host)) {
        char buffer[256] = {};
        host = ::gethostname(buffer, sizeof buffer - 1) == 0 ? buffer : "localhost";
    }
    return "tcp:" + hostPart(host) + ":" + std::to_string(port);
}

void MigrationTarget::prepare(std::string name, std::string definition, std::string devicesJson,
                              IncomingOptions options, Reply<std::string> reply) {
    if (options.tls)
        if (auto missing = checkTlsDir(settings_.tlsDir, true))
            return reply(failed(name + ": cannot receive it over TLS: " + *missing + "."));
    auto file = registry_.fileOf(name);
    std::error_code ec;
    if (registry_.find(name) || std::filesystem::exists(file, ec) || incoming(name))
        return reply(OpError{ErrorKind::Exists, "An instance named " + name +
                                                    " exists already on this host; it cannot be "
                                                    "migrated here."});
    std::string why;
    auto devices = hypervisor::devicesFromJson(devicesJson, why);
    if (!devices) return reply(OpError{ErrorKind::InvalidArgument, "PrepareIncoming: " + why});
    // Storage copy: the copied disks' images first (the definition names them, the loader
    // checks they are there); every refusal below removes them again.
    CreatedImages images;
    if (!options.copyDisks.empty()) {
        auto made =
            createTargetImages(*devices, options.copyDisks, registry_.settings().storageDirs);
        if (!made) return reply(made.error());
        images = std::move(made.value());
    }
    auto refuse = [&images, &reply](OpError error) {
        removeImages(images);
        reply(std::move(error));
    };
    auto spec = checkDefinition(name, definition, file);
    if (!spec) return refuse(spec.error());
    if (auto bad = checkLayout(spec.value(), *devices)) return refuse(*bad);
    auto in = std::make_shared<Incoming>();
    in->name = name;
    in->definition = std::move(definition);
    in->spec = std::move(spec.value());
    in->devices = std::move(*devices);
    in->paths = hypervisor::RuntimePaths::forInstance(context_.runtimeRoot, name);
    in->timeout = options.timeout;
    in->tls = options.tls;
    in->postcopy = options.postcopy;
    auto port = freePort();
    if (!port)
        return refuse(failed("No free port for the migration stream in [migration] port_range " +
                             std::to_string(settings_.portFirst) + "-" +
                             std::to_string(settings_.portLast) + " on " + settings_.listenAddress +
                             "."));
    in->port = *port;
    incoming_[name] = in;
    if (!images.paths.empty()) {
        // And a second port, for the NBD server that fills them.
        auto nbd = freePort();
        if (!nbd) {
            incoming_.erase(name);
            return refuse(
                failed("No second free port (for the storage copy) in [migration] "
                       "port_range on " +
                       settings_.listenAddress + "."));
        }
        in->nbdPort = *nbd;
        in->copyDisks = std::move(options.copyDisks);
        in->images = std::move(images);
    }
    life_.run<std::string>(
        prepareSteps(in), std::move(reply),
        failed("corrald is stopping; incoming migration of " + name + " abandoned"));
}

asio::awaitable<Outcome<std::string>> MigrationTarget::prepareSteps(std::shared_ptr<Incoming> in) {
    // Every failure is one named string and one discard (no temporaries in co_await
    // expressions, which g++ 12 can destroy twice).
    std::string why;
    std::string launchError;
    try {
        in->qemu = context_.parts.launchIncoming(in->spec, in->devices, context_.runtimeRoot,
                                                 context_.qemuBinary);
    } catch (const std::exception& e) {
        launchError = e.what();
    }
    if (!in->qemu) {
        co_await discard(in, launchError);
        co_return failed(in->name + ": cannot receive it: " + launchError);
    }
    // A restarted corrald removes these with the unfinished incoming qemu.
    if (!in->images.paths.empty()) recordImages(in->paths.dir, in->images);
    in->qmp = context_.parts.qmp(context_.qmpTimeout);
    auto connected =
        co_await life_.guard(in->qmp->connect(in->paths.qmpSocket.string(), kQmpConnectWindow));
    if (!connected) {
        why = "QMP: " + connected.error().message;
        co_await discard(in, why);
        co_return failed(in->name + ": cannot receive it: " + why);
    }
    std::vector<std::string> setup;
    // A confined qemu loaded the credentials at its start (migration_tls_confined.cpp).
    bool preloaded = tlsCredsOnCommandLine(in->qemu->state.argv, true);
    if (in->tls && !preloaded) setup.push_back(tlsCredsAddJson(settings_.tlsDir, true));
    setup.push_back(R"({"execute":"migrate-set-parameters","arguments":{)" +
                    tlsParameterJson(in->tls, preloaded ? kMigrationTlsServerId : kMigrationTlsId) +
                    "}}");
    if (in->postcopy) {
        // Refused here, before the stream starts, with what this host lacks; QEMU's own refusal
        // of the capability ("Postcopy is not supported") is the fallback.
        if (auto problem = postcopyHostProblem(hypervisor::confinedUid(in->qemu->state.argv),
                                               readUnprivilegedUserfaultfd())) {
            why = *problem;
            co_await discard(in, why);
            co_return failed(in->name + ": cannot receive it: " + why + ".");
        }
        setup.push_back(R"({"execute":"migrate-set-capabilities","arguments":{"capabilities":[)"
                        R"({"capability":"postcopy-ram","state":true}]}})");
    }
    for (const auto& command : setup) {
        auto done = co_await life_.guard(in->qmp->passthrough(command));
        if (!done) {
            why = "migration setup: " + done.error().message;
            co_await discard(in, why);
            co_return failed(in->name + ": cannot receive it: " + why);
        }
    }
    // Limits are host configuration, not migrated state: the destination sets them itself.
    auto link = in->qmp;
    auto devices = in->devices;
    auto unlimited = co_await life_.guard(applyDiskLimits(std::move(link), std::move(devices)));
    if (unlimited) {
        why = *unlimited;
        co_await discard(in, why);
        co_return failed(in->name + ": cannot receive it: " + why);
    }
    std::string listen =
        "tcp:" + hostPart(settings_.listenAddress) + ":" + std::to_string(in->port);
    std::string incoming =
        R"({"execute":"migrate-incoming","arguments":{"uri":")" + listen + R"("}})";
    auto started = co_await life_.guard(in->qmp->passthrough(incoming));
    if (!started) {
        why = "migrate-incoming: " + started.error().message;
        co_await discard(in, why);
        co_return failed(in->name + ": cannot receive it: " + why);
    }
    if (!in->copyDisks.empty()) {
        auto link = in->qmp;
        std::string creds;
        if (in->tls) creds = preloaded ? kMigrationTlsServerId : kMigrationTlsId;
        auto exported = co_await life_.guard(exportDisks(std::move(link), settings_.listenAddress,
                                                         in->nbdPort, in->copyDisks, creds));
        if (!exported) {
            why = exported.error().message;
            co_await discard(in, why);
            co_return failed(in->name + ": cannot receive it: " + why);
        }
    }
    // qemu exits when the stream breaks; an incoming VM nobody finishes does not stay forever.
    std::weak_ptr<Incoming> weak = in;
    in->lost = in->qmp->disconnected.connect([this, weak] {
        auto in = weak.lock();
        if (!in || in->finishing) return;
        life_.spawn(discard(in, "its qemu exited (the stream broke or the source gave up)"),
                    "discarding " + in->name);
    });
    in->deadline = context_.clock.schedule(in->timeout, [this, weak] {
        auto in = weak.lock();
        if (!in || in->finishing) return;
        life_.spawn(discard(in, "no FinishIncoming within the timeout"), "discarding " + in->name);
    });
    log(5, in->name + ": incoming migration listening on " + listen + " (qemu pid " +
               std::to_string(in->qemu->process->pid()) + ")");
    if (in->copyDisks.empty()) co_return uriFor(in->port);
    co_return uriFor(in->port) + " nbd:" + uriFor(in->nbdPort).substr(4);
}

asio::awaitable<void> MigrationTarget::discard(std::shared_ptr<Incoming> in, std::string why) {
    if (in->discarded) co_return;
    in->discarded = true;
    if (auto it = incoming_.find(in->name); it != incoming_.end() && it->second == in)
        incoming_.erase(it);
    in->deadline.reset();
    in->lost.disconnect();
    if (in->qmp) in->qmp->close();
    log(4, in->name + ": incoming migration discarded: " + why);
    if (in->qemu) {
        auto& process = in->qemu->process;
        process->kill(SIGKILL);
        co_await process->waitExit();
    }
    hypervisor::removeRuntimeDir(in->paths);
    removeImages(in->images);
}

void MigrationTarget::finish(std::string name, bool resume, Done done) {
    auto it = incoming_.find(name);
    if (it == incoming_.end() || it->second->finishing || !it->second->qmp)
        return done(OpError{ErrorKind::NoSuchInstance,
                            "No incoming migration of " + name + " is waiting here."});
    auto in = it->second;
    in->finishing = true;
    in->deadline.reset();
    life_.run<Unit>(finishSteps(in, resume), std::move(done),
                    failed("corrald is stopping; incoming migration of " + name + " abandoned"));
}

asio::awaitable<Outcome<Unit>> MigrationTarget::finishSteps(std::shared_ptr<Incoming> in,
                                                            bool resume) {
    std::string why;
    auto deadline = context_.clock.now() + kArrivalWindow;
    std::string status;
    while (true) {
        auto run = co_await life_.guard(in->qmp->queryStatus());
        if (!run) {
            why = "query-status: " + run.error().message;
            break;
        }
        status = run.value().status;
        if (status != "inmigrate" || context_.clock.now() >= deadline) break;
        co_await life_.sleep(kArrivalPoll);
    }
    if (why.empty() && status != "paused")
        why = "qemu is '" + status + "', not paused with the guest's state";
    // The source ended its mirrors before its last pass: the exports go before the guest runs.
    if (why.empty() && !in->copyDisks.empty()) {
        auto link = in->qmp;
        auto unexported = co_await life_.guard(unexportDisks(std::move(link), in->copyDisks));
        if (!unexported) why = unexported.error().message;
    }
    if (why.empty() && resume) {
        auto cont = co_await life_.guard(in->qmp->command("cont"));
        if (!cont) why = "cont: " + cont.error().message;
    }
    if (!why.empty()) {
        co_await discard(in, why);
        co_return failed(in->name + " did not arrive: " + why + "; its qemu here is gone");
    }
    // From here the VM runs here: it becomes an instance, whatever else goes wrong.
    forgetImages(in->paths.dir);
    in->lost.disconnect();
    in->qmp->close();
    incoming_.erase(in->name);
    auto vm = registry_.define(in->name, in->definition);
    auto* qemuVm = vm ? dynamic_cast<QemuVm*>(vm.value()) : nullptr;
    if (!qemuVm) {
        // It runs here all the same: the source must not resume it, so Finish succeeds. The qemu
        // keeps running without a definition (corrald never kills a running guest).
        auto why = vm ? std::string("not a qemu instance") : vm.error().message;
        unmanaged_.insert(in->name);
        log(2, in->name + ": arrived and runs (pid " + std::to_string(in->qemu->process->pid()) +
                   ") but its definition cannot be written, so it is not managed: " + why);
        co_return Unit{};
    }
    co_await qemuVm->adoptIncoming(std::move(in->qemu->process), std::move(in->qemu->state));
    log(5, in->name + ": migrated here" + (resume ? " and running" : " (paused)"));
    co_return Unit{};
}

std::string MigrationTarget::incomingState(const std::string& name) const {
    if (auto it = incoming_.find(name); it != incoming_.end())
        return it->second->finishing ? "finishing" : "waiting";
    if (registry_.find(name) || unmanaged_.count(name)) return "arrived";
    return "none";
}

void MigrationTarget::abort(std::string name, Done done) {
    auto it = incoming_.find(name);
    if (it == incoming_.end() || it->second->finishing)
        return done(OpError{ErrorKind::NoSuchInstance,
                            "No incoming migration of " + name + " is waiting here."});
    auto in = it->second;
    life_.run<Unit>(
        [](MigrationTarget* self, std::shared_ptr<Incoming> in) -> asio::awaitable<Outcome<Unit>> {
            co_await self->discard(in, "the source aborted it");
            co_return Unit{};
        }(this, in),
        std::move(done), failed("corrald is stopping"));
}

}  // namespace corral::supervisor

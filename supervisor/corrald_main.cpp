// corrald: loads the instance registry, reattaches to live VMs, serves org.corral1 on D-Bus
// and runs everything on one single-threaded io_context.
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>

#include "hypervisor/cpu_models.hpp"
#include "hypervisor/instance_name.hpp"
#include "hypervisor/qemu_process.hpp"
#include "hypervisor/runtime_dir.hpp"
#include "supervisor/autostart.hpp"
#include "supervisor/bus_loop.hpp"
#include "supervisor/daemon_options.hpp"
#include "supervisor/dbus_service.hpp"
#include "supervisor/host_shutdown.hpp"
#include "supervisor/log.hpp"
#include "supervisor/metrics_exposition.hpp"
#include "supervisor/metrics_server.hpp"
#include "supervisor/migration_source.hpp"
#include "supervisor/migration_storage.hpp"
#include "supervisor/migration_target.hpp"
#include "supervisor/qemu_vm.hpp"
#include "supervisor/registry.hpp"
#include "supervisor/stats_cache.hpp"
#include "supervisor/uid_pool.hpp"
#include "supervisor/unit_follow.hpp"

namespace asio = boost::asio;
using namespace corral::supervisor;

namespace {

sd_bus* openBus(const DaemonOptions& options) {
    sd_bus* bus = nullptr;
    int r = 0;
    switch (options.bus) {
        case DaemonOptions::Bus::System:
            r = sd_bus_open_system(&bus);
            break;
        case DaemonOptions::Bus::Session:
            r = sd_bus_open_user(&bus);
            break;
        case DaemonOptions::Bus::Address:
            if ((r = sd_bus_new(&bus)) < 0) break;
            if ((r = sd_bus_set_address(bus, options.busAddress.c_str())) < 0) break;
            if ((r = sd_bus_set_bus_client(bus, 1)) < 0) break;
            r = sd_bus_start(bus);
            break;
    }
    if (r < 0) {
        sd_bus_unref(bus);
        throw std::runtime_error(std::string("cannot connect to D-Bus: ") + std::strerror(-r));
    }
    return bus;
}

bool isIncoming(const std::vector<std::string>& argv) {
    for (std::size_t i = 0; i + 1 < argv.size(); ++i)
        if (argv[i] == "-incoming") return true;
    return false;
}

// Runtime dirs of instances no longer defined: a dead VM's dir goes, a live VM is left alone
// (it has no definition to be managed by, and corrald never kills what it cannot manage).
void sweepOrphans(const std::filesystem::path& runtimeRoot, const Registry& registry,
                  const LogSink& log) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(runtimeRoot, ec)) {
        auto name = entry.path().filename().string();
        if (!entry.is_directory() || registry.find(name) ||
            corral::hypervisor::checkInstanceName(name))
            continue;
        auto paths = corral::hypervisor::RuntimePaths::forInstance(runtimeRoot, name);
        std::string problem;
        auto state = corral::hypervisor::readState(paths, problem);
        if (state && state->pid > 0 &&
            corral::hypervisor::processCmdline(state->pid) == state->argv) {
            // An incoming migration a previous corrald left: it never ran the guest here (only
            // FinishIncoming resumes it, and that defines it), and its source resumes without it.
            if (!isIncoming(state->argv)) {
                log(4, name + ": qemu (pid " + std::to_string(state->pid) +
                           ") runs without a definition; left running, not managed");
                continue;
            }
            log(4, name + ": killing the qemu (pid " + std::to_string(state->pid) +
                       ") of an unfinished incoming migration");
            ::kill(state->pid, SIGKILL);
        }
        log(5, name + ": removing stale runtime dir " + paths.dir.string());
        // The images an unfinished incoming storage copy created here go with it.
        corral::supervisor::removeRecordedImages(paths.dir);
        corral::hypervisor::removeRuntimeDir(paths);
    }
}

struct Daemon {
    DaemonOptions options;
    asio::io_context io;
    // Set once the registry exists: log lines about its instances carry their unit (log.hpp).
    const Registry* named = nullptr;
    LogSink log = stderrLog(
        6, [this](std::string_view name) { return named && named->find(name) != nullptr; });
    AsioClock clock{io.get_executor()};
    std::unique_ptr<ScopeManager> scopes = ScopeManager::connect(io, log);
    std::unique_ptr<QemuParts> parts =
        makeQemuParts(io.get_executor(), options.logDir,
                      confinePolicy(options.uidRange, options.migration.tlsDir, log));
    VmContext context{io.get_executor(),
                      clock,
                      *parts,
                      options.runtimeDir,
                      options.commandsDir,
                      options.stateDir,
                      log,
                      scopes.get(),
                      options.qemuBinary,
                      options.qmpTimeout,
                      {},
                      options.firmware};
    Registry registry{options.instancesDir,
                      [this](const std::string& name, const corral::hypervisor::LoadResult& def) {
                          return std::make_unique<QemuVm>(context, name, def);
                      },
                      log};
    std::shared_ptr<BusLoop> loop;
    StatsCache stats{registry, clock, {}};
    MigrationTarget incoming{context, registry, options.migration};
    MigrationSource outgoing{context, registry, io, options.migration};
    std::unique_ptr<DbusService> service;
    std::unique_ptr<HostShutdownService> hostShutdown;
    std::unique_ptr<UnitFollower> unitFollower;
    std::unique_ptr<MetricsServer> metrics;

    explicit Daemon(DaemonOptions o) : options(std::move(o)) {
        named = &registry;
        if (!confinePolicy(options.uidRange).on)
            log(4,
                "corrald does not run as root: every qemu runs unconfined, as corrald's user, "
                "with its capabilities and its view of the filesystem");
        corral::hypervisor::setCpuModelCheck([binary = options.qemuBinary](std::string_view m) {
            return corral::hypervisor::checkCpuModel(m, binary);
        });
        registry.configure({options.storageDirs, options.runtimeDir, options.stateDir});
        context.definitionFile = [this](const std::string& name) { return registry.fileOf(name); };
        context.logRoot = options.logDir;
        context.logBound = options.logBound;
    }

    // All instances at once: one VM whose monitor answers slowly (or is held by another client)
    // must not hold up the others or the daemon's readiness.
    asio::awaitable<void> reattachAll() {
        auto vms = registry.all();
        auto left = std::make_shared<std::size_t>(vms.size());
        auto allDone =
            std::make_shared<asio::steady_timer>(io, asio::steady_timer::time_point::max());
        for (Vm* vm : vms) {
            asio::co_spawn(io, static_cast<QemuVm*>(vm)->reattach(),
                           [this, left, allDone, name = vm->name()](std::exception_ptr e) {
                               if (e) log(3, name + ": reattach failed");
                               if (--*left == 0) allDone->cancel();
                           });
        }
        boost::system::error_code ec;
        if (*left > 0) co_await allDone->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }

    // Only the first start after the host booted: a restart or an upgrade of corrald leaves a
    // VM the administrator shut down stopped.
    void autostartOncePerBoot() {
        std::string problem;
        bool firstOfBoot = claimBoot(options.runtimeDir, readBootId(), problem);
        if (!problem.empty()) log(4, "autostart marker: " + problem);
        if (!firstOfBoot) {
            log(6, "not the first start since boot; autostart skipped");
            return;
        }
        for (Vm* vm : registry.all()) {
            // A VM saved at host shutdown comes back like libvirt-guests' suspend does.
            if (!static_cast<QemuVm*>(vm)->autostart() && !vm->restoresAtBoot()) continue;
            auto state = vm->lifecycle().state();
            if (state != State::Stopped && state != State::Crashed) continue;
            vm->lifecycle().start([this, name = vm->name()](Status s) {
                if (!s) log(3, name + ": autostart failed: " + s.error().message);
            });
        }
    }

    asio::awaitable<void> startUp() {
        auto summary = registry.reload();
        log(6, "loaded " + std::to_string(summary.added) + " instance(s) from " +
                   options.instancesDir.string() + " (" + std::to_string(summary.invalid) +
                   " invalid)");
        co_await reattachAll();
        for (Vm* vm : registry.all()) outgoing.recover(*vm);
        unsigned adopted = 0;
        for (Vm* vm : registry.all()) {
            auto state = vm->lifecycle().state();
            if (state == State::Running || state == State::Paused) ++adopted;
        }
        sweepOrphans(options.runtimeDir, registry, log);
        service = std::make_unique<DbusService>(loop, registry, options.runtimeDir);
        service->serveStats(stats);
        hostShutdown =
            std::make_unique<HostShutdownService>(loop, registry, clock, options.host, log);
        if (scopes) unitFollower = std::make_unique<UnitFollower>(registry, *scopes);
        service->serveMigration(outgoing, incoming);
        if (options.metricsListen) {
            auto render = [this] {
                auto samples = stats.readAll();
                return exposition(samples);
            };
            metrics = std::make_unique<MetricsServer>(io.get_executor(), *options.metricsListen,
                                                      render, MetricsServer::Limits{}, log);
            log(6, "serving metrics on " + toString(*options.metricsListen));
        }
        service->requestName();
        loop->kick();
        autostartOncePerBoot();
        auto status = "Serving " + std::to_string(registry.all().size()) + " instance(s), " +
                      std::to_string(adopted) + " reattached";
        log(5, status);
        sd_notifyf(0, "READY=1\nSTATUS=%s", status.c_str());
    }
};

}  // namespace

int main(int argc, char** argv) {
    DaemonOptions options;
    try {
        options = parseDaemonOptions(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "corrald: %s\n%s", e.what(), kDaemonUsage);
        return 2;
    }
    if (options.help) {
        std::fputs(kDaemonUsage, stdout);
        return 0;
    }
    std::signal(SIGPIPE, SIG_IGN);
    try {
        Daemon daemon(std::move(options));
        sd_bus* bus = openBus(daemon.options);
        daemon.loop = BusLoop::attach(daemon.io, bus);
        sd_bus_unref(bus);

        asio::signal_set stop(daemon.io, SIGTERM, SIGINT);
        stop.async_wait([&daemon](const boost::system::error_code& ec, int signo) {
            if (ec) return;
            // VMs keep running: a restarted corrald reattaches to them.
            daemon.log(5, std::string("stopping on ") + strsignal(signo) + "; VMs keep running");
            sd_notify(0, "STOPPING=1");
            daemon.io.stop();
        });
        int rc = 0;
        asio::co_spawn(daemon.io, daemon.startUp(), [&](std::exception_ptr e) {
            if (!e) return;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                daemon.log(2, std::string("start-up failed: ") + ex.what());
            }
            rc = 1;
            daemon.io.stop();
        });
        daemon.io.run();
        daemon.metrics.reset();
        daemon.unitFollower.reset();
        daemon.hostShutdown.reset();
        daemon.service.reset();
        daemon.loop->detach();
        daemon.scopes.reset();
        return rc;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "corrald: %s\n", e.what());
        return 1;
    }
}

// The host shutdown phase: every VM gets its graceful shutdown (ACPI, then its escalation), all
// at once, within one bound for the whole phase; what still runs at its end is killed and named
// in the journal. corral-guests.service asks for it (Host.ShutdownGuests) when systemd stops it
// at host shutdown, before systemd stops the VMs' scopes (docs/architecture.md "## systemd").
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/signal.hpp"
#include "supervisor/clock.hpp"
#include "supervisor/instance.hpp"

namespace corral::supervisor {

class BusLoop;
class Registry;

// Sorted by name.
struct HostShutdownResult {
    std::vector<std::string> stopped;  // ended within the phase (shutdown or its escalation)
    std::vector<std::string> killed;   // still running when the bound was reached
};

// [host] in corral.toml.
struct HostPolicy {
    Duration shutdownTimeout = std::chrono::seconds(300);
    // on_shutdown = "suspend": each VM is saved (managed save) rather than shut down; the next
    // boot restores it. One whose save fails gets the graceful shutdown.
    bool suspend = false;
};

class HostShutdown {
  public:
    using Finished = std::function<void(const HostShutdownResult&)>;
    // Saves the VM of that name and stops it (on_shutdown = "suspend"); `done` with the error
    // after which the VM still runs.
    using Saver = std::function<void(const std::string& name, Done done)>;

    // Begins the phase over `instances`: running and paused VMs are shut down now, one that is
    // starting once it runs, one already shutting down goes on with its escalation, a pending
    // crash restart is cancelled. After `bound` the VMs not yet ended are killed. `finished`
    // runs once every one has ended (at once when none runs). Keep the object until then.
    // With `save`, a running or paused VM is saved first, and shut down only if that fails.
    HostShutdown(std::vector<Instance*> instances, Clock& clock, Duration bound, LogSink log,
                 Finished finished, Saver save = {});
    ~HostShutdown();
    HostShutdown(const HostShutdown&) = delete;
    HostShutdown& operator=(const HostShutdown&) = delete;

  private:
    void request(Instance& instance);
    void changed(Instance& instance);
    void boundReached();
    void checkDone();

    Clock& clock_;
    Duration bound_;
    LogSink log_;
    Finished finished_;
    Saver save_;
    std::set<std::string> saveTried_;
    TimePoint began_;
    std::map<std::string, Instance*> pending_;
    std::map<std::string, Connection> watches_;
    HostShutdownResult result_;
    std::unique_ptr<TimerHandle> timer_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// org.corral1.Host on /org/corral1: ShutdownGuests() (root only) runs one HostShutdown over
// every instance of the registry and replies when it has finished (as stopped, as killed).
class HostShutdownService {
  public:
    HostShutdownService(std::shared_ptr<BusLoop> loop, Registry& registry, Clock& clock,
                        HostPolicy policy, LogSink log);
    ~HostShutdownService();
    HostShutdownService(const HostShutdownService&) = delete;
    HostShutdownService& operator=(const HostShutdownService&) = delete;

    struct Callbacks;

  private:
    // on_shutdown = "suspend": saves through the registry's VM; empty otherwise.
    HostShutdown::Saver saver();

    std::shared_ptr<BusLoop> loop_;
    Registry& registry_;
    Clock& clock_;
    HostPolicy policy_;
    LogSink log_;
    struct sd_bus_slot* slot_ = nullptr;
    std::unique_ptr<HostShutdown> phase_;
    std::vector<std::function<void(const HostShutdownResult&)>> waiting_;
};

}  // namespace corral::supervisor

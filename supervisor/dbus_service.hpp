// The D-Bus face of corrald: org.corral1.Manager at /org/corral1 (with ObjectManager) and one
// org.corral1.Instance object per VM, served from a fallback vtable and a node enumerator.
// It only translates: every decision is made by Registry, Instance and Vm. It is one subscriber
// among any number to their signals.
#pragma once

#include <systemd/sd-bus.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/signal.hpp"
#include "supervisor/bus_loop.hpp"
#include "supervisor/dbus_ref.hpp"
#include "supervisor/log.hpp"
#include "supervisor/registry.hpp"

namespace corral::supervisor {

struct InstanceRef;

inline constexpr const char* kBusName = "org.corral1";
inline constexpr const char* kManagerPath = "/org/corral1";
inline constexpr const char* kManagerInterface = "org.corral1.Manager";
inline constexpr const char* kInstancePrefix = "/org/corral1/instance";
inline constexpr const char* kInstanceInterface = "org.corral1.Instance";
inline constexpr const char* kStatsInterface = "org.corral1.Instance.Stats";

class StatsCache;
class MigrationControl;
class IncomingControl;

// "/org/corral1/instance/<sd_bus_path_encode(name)>".
std::string instancePath(const std::string& name);

class DbusService {
  public:
    // Subscribes to the registry and to every existing instance, then registers the objects on
    // the bus (not yet the name). Throws std::runtime_error on sd-bus failures.
    DbusService(std::shared_ptr<BusLoop> loop, Registry& registry,
                std::filesystem::path runtimeDirectory, LogSink log = stderrLog());
    ~DbusService();
    DbusService(const DbusService&) = delete;
    DbusService& operator=(const DbusService&) = delete;

    // Takes the well-known name; call once the objects are complete (after reattach).
    void requestName();
    // Adds org.corral1.Instance.Stats to every instance object, served from `cache`; call
    // before requestName().
    void serveStats(StatsCache& cache);

    // Live migration: Instance.Migrate and its properties on `source`, the Manager's incoming
    // methods on `target`; call before requestName().
    void serveMigration(MigrationControl& source, IncomingControl& target);

    // sd-bus callbacks (static trampolines need access).
    struct Callbacks;

  private:
    // Makes the object of `vm` resolvable; no signal (used for instances that exist before the
    // name is owned, and by publish()).
    InstanceRef& watch(Vm& vm);
    // A Vm the registry added: resolvable first, then announced.
    void publish(Vm& vm);
    void retract(const std::string& name);
    void emitChanged(const InstanceRef& ref, unsigned changed);
    // Logs a signal that could not be emitted: there is no caller to tell.
    void warnIfFailed(int r, const char* signal, const std::string& name) const;

    std::shared_ptr<BusLoop> loop_;
    Registry& registry_;
    std::filesystem::path runtimeDirectory_;
    LogSink log_;
    std::vector<Connection> registryConnections_;
    StatsCache* stats_ = nullptr;
    Connection statsSampled_;
    MigrationControl* migrationSource_ = nullptr;
    IncomingControl* migrationTarget_ = nullptr;
    Connection migrationChanged_;
    // The published instance objects by name; an entry exists exactly while the object does.
    std::map<std::string, std::unique_ptr<InstanceRef>, std::less<>> refs_;
    // Declared last, dropped first: no callback runs once the objects are being torn down.
    SlotRef managerSlot_;
    SlotRef instanceSlot_;
    SlotRef enumeratorSlot_;
    SlotRef objectManagerSlot_;
    SlotRef statsSlot_;
};

}  // namespace corral::supervisor

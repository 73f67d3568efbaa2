// What the D-Bus adaptor needs of live migration, as interfaces: MigrationSource (the source
// side) and MigrationTarget (the destination side) implement them in corrald; the adaptor only
// translates.
#pragma once

#include <chrono>
#include <string>

#include "common/signal.hpp"
#include "supervisor/migration_info.hpp"
#include "supervisor/migration_options.hpp"
#include "supervisor/vm.hpp"

namespace corral::supervisor {

struct MigrationStatus {
    // "none", "preparing", "copying-storage", "active", "postcopy", "postcopy-paused",
    // "postcopy-recovering", "completing", "completed", "failed", "cancelled".
    std::string state = "none";
    MigrationProgress progress;
    std::string error;  // why the last run failed
};

class MigrationControl {
  public:
    virtual ~MigrationControl() = default;
    // Moves `vm` to `destination` (a D-Bus address or a host name); `done` once it runs there,
    // or with the error after which it runs here.
    virtual void migrate(Vm& vm, std::string destination, MigrateOptions options, Done done) = 0;
    // Asks a run in progress to stop; InvalidState when there is none. Migrate answers.
    virtual Status cancel(const Vm& vm) = 0;
    virtual MigrationStatus status(const std::string& name) const = 0;
    // The name of an instance whose MigrationState or MigrationProgress changed.
    corral::Signal<const std::string&>& changed() { return changed_; }

  protected:
    corral::Signal<const std::string&> changed_;
};

class IncomingControl {
  public:
    virtual ~IncomingControl() = default;
    virtual void prepare(std::string name, std::string definition, std::string devicesJson,
                         IncomingOptions options, Reply<std::string> reply) = 0;
    virtual void finish(std::string name, bool resume, Done done) = 0;
    virtual void abort(std::string name, Done done) = 0;
    // Where an incoming migration of `name` stands here: "waiting" (prepared, no Finish yet),
    // "finishing" (Finish runs), "arrived" (an instance of that name is here), "none".
    virtual std::string incomingState(const std::string& name) const = 0;
    // Postcopy recovery of an arrived VM whose stream broke: its qemu's stream paused (QEMU's
    // migrate-pause if it has not noticed yet) and listening again (migrate-recover); the URI the
    // source's qemu resumes to.
    virtual void recover(std::string name, Reply<std::string> reply) = 0;
};

}  // namespace corral::supervisor

// MigrationSource's record of one migration run, shared by the files that implement it
// (migration_source.cpp, migration_source_storage.cpp). Not for anyone else.
#pragma once

#include <memory>
#include <string>

#include "common/signal.hpp"
#include "supervisor/migration_remote.hpp"
#include "supervisor/migration_source.hpp"
#include "supervisor/migration_storage.hpp"

namespace corral::supervisor {

struct MigrationSource::Run {
    std::string name;
    Vm* vm = nullptr;  // null once the registry dropped it
    std::string destination;
    MigrateOptions options;
    MigrationStatus status;
    bool wasRunning = false;
    bool active = true;
    std::string stopWhy;  // set: stop the transfer (cancel, timeout, destination gone)
    bool cancelled = false;
    bool switching = false;     // FinishIncoming has gone out: too late to cancel
    bool unconfirmed = false;   // it went out and no answer came: where the VM runs is unknown
    bool tlsPreloaded = false;  // its qemu has the client credentials on its command line
    corral::Signal<> wake;
    std::shared_ptr<RemoteCorrald> remote;
    corral::Connection gone;
    corral::Connection events;  // the VM's MIGRATION events wake the transfer's loop
    bool eventSeen = false;     // one came since the last query-migrate (maybe while it ran)
    std::unique_ptr<StorageCopy> storage;  // storage "copy": the disks' mirrors
    DiskSizes sizes;
    bool storageEnded = false;  // the mirrors ended in sync at pre-switchover
};

}  // namespace corral::supervisor

// MigrationSource's record of one migration run and its timings, shared by the files that
// implement it (migration_source*.cpp). Not for anyone else.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/signal.hpp"
#include "supervisor/migration_remote.hpp"
#include "supervisor/migration_source.hpp"
#include "supervisor/migration_storage.hpp"

namespace corral::supervisor {

namespace migration_run {

using std::chrono::milliseconds;
using std::chrono::seconds;
// query-migrate, and so MigrationProgress, at most 2/s; a MIGRATION event (QEMU's "events"
// capability) ends the wait at once, so the switchover does not wait for the next poll.
inline constexpr milliseconds kPoll{500};
inline constexpr seconds kPrepareTimeout{60};
inline constexpr seconds kFinishTimeout{30};
inline constexpr seconds kAbortTimeout{10};
inline constexpr seconds kQuitWindow{10};
// A postcopy stream that sent nothing for this long is broken (a dead link, which TCP takes
// minutes to notice): QEMU's migrate-pause, then its recovery. Between recovery attempts, kRetry.
inline constexpr seconds kPostcopyStall{5};
inline constexpr seconds kRetry{1};
inline constexpr milliseconds kQuitPoll{50};
// After migrate_cancel, how long QEMU may take to say cancelled.
inline constexpr seconds kCancelWindow{30};
// An incoming VM the destination keeps without news: the transfer's timeout and a margin.
inline constexpr std::uint64_t kIncomingMarginSeconds = 300;
inline constexpr std::uint64_t kIncomingDefaultSeconds = 3600;

inline const std::string kFailed = "failed";
inline const std::string kCancelled = "cancelled";

inline OpError failed(std::string text) {
    return {ErrorKind::Failed, std::move(text)};
}

}  // namespace migration_run

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
    bool postcopy = false;      // migrate-start-postcopy went out
    // Postcopy recovery: attempts so far, and why the last one did not get the stream going.
    int resumeAttempts = 0;
    std::string resumeWhy;
};

}  // namespace corral::supervisor

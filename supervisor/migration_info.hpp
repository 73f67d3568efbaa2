// What `query-migrate` says about an outgoing migration, in plain types (parsed by
// parseMigrationInfo in qmp_link.cpp), and the MigrationState values of the D-Bus API.
#pragma once

#include <cstdint>
#include <string>

namespace corral::supervisor {

struct MigrationProgress {
    std::uint64_t transferred = 0;  // RAM bytes sent so far
    std::uint64_t remaining = 0;
    std::uint64_t total = 0;
    std::uint64_t dirtyRate = 0;           // bytes/s the guest dirties (pages/s × page size)
    std::uint64_t expectedDowntimeMs = 0;  // QEMU's estimate while active
    std::uint64_t downtimeMs = 0;          // the real one, once completed
    std::uint64_t totalTimeMs = 0;
    // Storage copy: bytes the disks' mirrors copied, and to copy (grows with the guest's writes).
    std::uint64_t storageTransferred = 0;
    std::uint64_t storageTotal = 0;
};

struct MigrationQuery {
    // QEMU's MigrationStatus: "none", "setup", "active", "device", "pre-switchover",
    // "completed", "failed", "cancelling", "cancelled", "postcopy-active", ...
    std::string status;
    std::string error;  // error-desc, when failed
    MigrationProgress progress;
    // ram.dirty-sync-count: QEMU's passes over the RAM so far (1 during the first).
    std::uint64_t dirtySyncCount = 0;
};

}  // namespace corral::supervisor

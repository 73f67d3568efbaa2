// The option dictionaries of Instance.Migrate and of the Manager's incoming-migration methods, in
// plain types, and the rules that decide whether corrald acts on them. No sd-bus here: the D-Bus
// adaptor (dbus_migration.cpp) copies the message into these types, so the rules are unit-tested.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "supervisor/migration_postcopy.hpp"
#include "supervisor/op_error.hpp"

namespace corral::supervisor {

// One entry of an a{sv} as it came off the bus: strings, booleans and uint64 with their value,
// any other type by its signature only (so that the refusal can name it).
struct MigrationOption {
    std::string key;
    std::string type;  // "s", "b", "t", ...
    std::string text;
    bool flag = false;
    std::uint64_t number = 0;
};
using MigrationOptionList = std::vector<MigrationOption>;

// The longest `timeout` (one day) and the widest `downtime_ms` (QEMU's limit, 2000 s) accepted.
inline constexpr std::uint64_t kMaxMigrationTimeoutSeconds = 86'400;
inline constexpr std::uint64_t kMaxDowntimeMs = 2'000'000;

struct MigrateOptions {
    std::optional<std::uint64_t> bandwidth;   // bytes/s; QEMU's max-bandwidth
    std::optional<std::uint64_t> downtimeMs;  // QEMU's downtime-limit
    // bytes/s after the switch to postcopy; QEMU's max-postcopy-bandwidth (unset: unlimited).
    std::optional<std::uint64_t> postcopyBandwidth;
    bool autoConverge = false;
    bool tls = false;  // the stream over TLS ([migration] tls_dir on both hosts)
    // storage "copy": the writable disks are copied to the destination (migration_storage.hpp).
    bool copyStorage = false;
    // Whether and when precopy switches to postcopy (migration_postcopy.hpp).
    PostcopyMode postcopy = PostcopyMode::Never;
    // How long the whole transfer may take before it is cancelled; zero: no limit.
    std::chrono::seconds timeout{0};
};

// Migrate(s destination, a{sv} options): bandwidth (t, > 0), downtime_ms (t, 1..kMaxDowntimeMs),
// auto_converge (b), postcopy (s: "never", "auto" or "always"; not with storage "copy"),
// postcopy_bandwidth (t, > 0; only with postcopy auto or always), storage
// (s: "shared" or "copy"), tls (b), timeout (t seconds, 1..kMaxMigrationTimeoutSeconds); each key
// once, nothing else.
Outcome<MigrateOptions> validateMigrateOptions(const MigrationOptionList& options);

// Migrate refuses (InvalidState, with a sentence) a VM whose <state_dir>/NAME holds a snapshot
// chain: its overlays are not migrated. nullopt: no snapshots.
std::optional<OpError> snapshotsRefusal(const std::filesystem::path& vmStateDir,
                                        const std::string& name);

// InvalidArgument unless `destination` is a D-Bus address ("unix:path=...", anything with a
// ':' and '=') or a host name as `ssh` takes it ([USER@]HOST).
std::optional<OpError> checkDestination(const std::string& destination);

struct IncomingOptions {
    // After it, an incoming migration the source never finished is aborted.
    std::chrono::seconds timeout{3600};
    bool tls = false;  // the stream arrives over TLS
    // Storage copy: the virtual size of each disk to create here and receive over NBD, by id.
    // Empty: shared storage.
    std::map<std::string, std::uint64_t, std::less<>> copyDisks;
    // The source may switch to postcopy: the incoming qemu gets capability postcopy-ram.
    bool postcopy = false;
};

// PrepareIncoming's options: timeout (t seconds, 1..kMaxMigrationTimeoutSeconds; default 1 h),
// tls (b), copy_disks (s, "ID=BYTES,...": storage copy of those disks), postcopy (b).
Outcome<IncomingOptions> validateIncomingOptions(const MigrationOptionList& options);

// FinishIncoming's options: resume (b, default true): `cont` the VM once it has arrived (false
// for a VM that was paused on the source).
Outcome<bool> validateFinishOptions(const MigrationOptionList& options);
// RecoverIncoming takes none yet (the dictionary is there for later versions).
Status validateRecoverOptions(const MigrationOptionList& options);

}  // namespace corral::supervisor

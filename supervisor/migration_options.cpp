#include "supervisor/migration_options.hpp"

#include <cctype>
#include <set>

#include "supervisor/migration_storage.hpp"
#include "supervisor/snapshot_record.hpp"

namespace corral::supervisor {

namespace {

OpError bad(std::string text) {
    return {ErrorKind::InvalidArgument, std::move(text)};
}

// Each key once, known to the method, of the right type.
std::optional<OpError> checkEntries(const char* method, const MigrationOptionList& options,
                                    const std::vector<std::pair<const char*, char>>& known) {
    std::set<std::string> seen;
    std::string list;
    for (const auto& [key, type] : known) list += (list.empty() ? "" : ", ") + std::string(key);
    for (const auto& option : options) {
        if (!seen.insert(option.key).second)
            return bad(std::string(method) + ": option '" + option.key + "' is given twice.");
        const std::pair<const char*, char>* row = nullptr;
        for (const auto& entry : known)
            if (option.key == entry.first) row = &entry;
        if (!row)
            return bad(std::string(method) + ": unknown option '" + option.key +
                       "' (known: " + list + ").");
        if (option.type != std::string(1, row->second))
            return bad(std::string(method) + ": option '" + option.key + "' must be of type '" +
                       row->second + "', not '" + option.type + "'.");
    }
    return std::nullopt;
}

Outcome<std::chrono::seconds> timeoutOf(const char* method, const MigrationOption& option) {
    if (option.number == 0 || option.number > kMaxMigrationTimeoutSeconds)
        return bad(std::string(method) + ": timeout must be 1 to " +
                   std::to_string(kMaxMigrationTimeoutSeconds) + " seconds, not " +
                   std::to_string(option.number) + ".");
    return std::chrono::seconds(option.number);
}

}  // namespace

Outcome<MigrateOptions> validateMigrateOptions(const MigrationOptionList& options) {
    if (auto error = checkEntries("Migrate", options,
                                  {{"bandwidth", 't'},
                                   {"downtime_ms", 't'},
                                   {"auto_converge", 'b'},
                                   {"postcopy", 's'},
                                   {"postcopy_bandwidth", 't'},
                                   {"storage", 's'},
                                   {"tls", 'b'},
                                   {"timeout", 't'}}))
        return *error;
    MigrateOptions out;
    for (const auto& option : options) {
        if (option.key == "bandwidth") {
            if (option.number == 0) return bad("Migrate: bandwidth must be at least 1 byte/s.");
            out.bandwidth = option.number;
        } else if (option.key == "postcopy_bandwidth") {
            if (option.number == 0)
                return bad("Migrate: postcopy_bandwidth must be at least 1 byte/s.");
            out.postcopyBandwidth = option.number;
        } else if (option.key == "downtime_ms") {
            if (option.number == 0 || option.number > kMaxDowntimeMs)
                return bad("Migrate: downtime_ms must be 1 to " + std::to_string(kMaxDowntimeMs) +
                           ", not " + std::to_string(option.number) + ".");
            out.downtimeMs = option.number;
        } else if (option.key == "auto_converge") {
            out.autoConverge = option.flag;
        } else if (option.key == "postcopy") {
            auto mode = postcopyModeOf(option.text);
            if (!mode)
                return bad("Migrate: postcopy must be never, auto or always, not '" + option.text +
                           "'.");
            out.postcopy = *mode;
        } else if (option.key == "storage") {
            out.copyStorage = option.text == "copy";
            if (option.text != "shared" && option.text != "copy")
                return bad("Migrate: storage must be shared or copy, not '" + option.text + "'.");
        } else if (option.key == "tls") {
            out.tls = option.flag;
        } else if (option.key == "timeout") {
            auto timeout = timeoutOf("Migrate", option);
            if (!timeout) return timeout.error();
            out.timeout = timeout.value();
        }
    }
    if (out.postcopyBandwidth && out.postcopy == PostcopyMode::Never)
        return bad("Migrate: postcopy_bandwidth needs postcopy auto or always.");
    // The mirrors end at QEMU's pause before the switchover, which postcopy has none of.
    if (out.copyStorage && out.postcopy != PostcopyMode::Never)
        return bad("Migrate: postcopy cannot be combined with storage copy; use postcopy never.");
    return out;
}

std::optional<OpError> checkDestination(const std::string& destination) {
    if (destination.empty()) return bad("Migrate: the destination is empty.");
    if (destination.size() > 4096) return bad("Migrate: the destination is too long.");
    for (char c : destination)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            return bad("Migrate: the destination contains a control character.");
    if (destination.find('=') != std::string::npos && destination.find(':') != std::string::npos)
        return std::nullopt;  // a D-Bus address; sd-bus says whether it is a good one
    if (destination.front() == '-')
        return bad("Migrate: destination '" + destination +
                   "' is neither a D-Bus address nor a "
                   "host name.");
    for (char c : destination)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ||
              c == '@' || c == ':' || c == '[' || c == ']'))
            return bad("Migrate: destination '" + destination +
                       "' is neither a D-Bus address (unix:path=...) nor a host name.");
    return std::nullopt;
}

Outcome<IncomingOptions> validateIncomingOptions(const MigrationOptionList& options) {
    if (auto error =
            checkEntries("PrepareIncoming", options,
                         {{"timeout", 't'}, {"tls", 'b'}, {"copy_disks", 's'}, {"postcopy", 'b'}}))
        return *error;
    IncomingOptions out;
    for (const auto& option : options) {
        if (option.key == "tls" || option.key == "postcopy") {
            (option.key == "tls" ? out.tls : out.postcopy) = option.flag;
            continue;
        }
        if (option.key == "copy_disks") {
            auto sizes = parseDiskSizes(option.text);
            if (!sizes) return sizes.error();
            out.copyDisks = std::move(sizes.value());
            continue;
        }
        auto checked = timeoutOf("PrepareIncoming", option);
        if (!checked) return checked.error();
        out.timeout = checked.value();
    }
    return out;
}

Outcome<bool> validateFinishOptions(const MigrationOptionList& options) {
    if (auto error = checkEntries("FinishIncoming", options, {{"resume", 'b'}})) return *error;
    bool resume = true;
    for (const auto& option : options) resume = option.flag;
    return resume;
}

// The overlays of a snapshot chain live in the VM's state dir, which is not migrated: the
// destination would open the base images and lose everything written since the first snapshot.
std::optional<OpError> snapshotsRefusal(const std::filesystem::path& vmStateDir,
                                        const std::string& name) {
    std::string error;
    auto chain = readChain(vmStateDir, error);
    if (!chain)
        return OpError{ErrorKind::Failed,
                       name + ": cannot read its snapshots (" + error + "); it is not migrated."};
    if (chain->snapshots.empty()) return std::nullopt;
    return OpError{ErrorKind::InvalidState,
                   name + " has " + std::to_string(chain->snapshots.size()) +
                       " snapshot(s), starting with '" + chain->snapshots.front().name +
                       "', whose overlays a migration does not carry: DeleteSnapshot them "
                       "first (it merges them into the images)."};
}

Status validateRecoverOptions(const MigrationOptionList& options) {
    if (auto error = checkEntries("RecoverIncoming", options, {})) return *error;
    return Unit{};
}

}  // namespace corral::supervisor

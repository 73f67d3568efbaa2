// The caller's credentials come from the bus (sd_bus_query_sender_creds), not from the message:
// a client cannot claim another uid.
#include "supervisor/dbus_caller.hpp"

#include <grp.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "supervisor/storage_dirs.hpp"

namespace corral::supervisor {

namespace {

// The group the bus policy (org.corral1.conf) lets call methods.
constexpr const char* kCorralGroup = "corral";

using CredsRef = std::unique_ptr<sd_bus_creds, sd_bus_creds* (*)(sd_bus_creds*)>;

CredsRef senderCreds(sd_bus_message* m) {
    sd_bus_creds* raw = nullptr;
    int r = sd_bus_query_sender_creds(m,
                                      SD_BUS_CREDS_EUID | SD_BUS_CREDS_EGID |
                                          SD_BUS_CREDS_SUPPLEMENTARY_GIDS | SD_BUS_CREDS_AUGMENT,
                                      &raw);
    if (r < 0) raw = nullptr;
    return CredsRef(raw, sd_bus_creds_unref);
}

std::optional<uid_t> effectiveUid(sd_bus_creds* creds) {
    uid_t euid = 0;
    if (!creds || sd_bus_creds_get_euid(creds, &euid) < 0) return std::nullopt;
    return euid;
}

bool inGroup(sd_bus_creds* creds, gid_t group) {
    gid_t egid = 0;
    if (sd_bus_creds_get_egid(creds, &egid) >= 0 && egid == group) return true;
    const gid_t* gids = nullptr;
    int n = sd_bus_creds_get_supplementary_gids(creds, &gids);
    for (int i = 0; i < n; ++i)
        if (gids[i] == group) return true;
    return false;
}

std::optional<gid_t> corralGroup() {
    struct group entry {};
    struct group* found = nullptr;
    char buffer[4096];
    if (getgrnam_r(kCorralGroup, &entry, buffer, sizeof buffer, &found) != 0 || !found)
        return std::nullopt;
    return found->gr_gid;
}

OpError unknownCaller(std::string_view method) {
    return OpError{ErrorKind::PermissionDenied, "Permission denied: " + std::string(method) +
                                                    " could not learn the caller's user id."};
}

std::string listed(const std::vector<std::filesystem::path>& dirs) {
    std::string out;
    for (const auto& dir : dirs) out += (out.empty() ? "" : ", ") + dir.string();
    return out.empty() ? "none configured" : out;
}

}  // namespace

std::optional<OpError> checkCaller(sd_bus_message* m, std::string_view method, Access access) {
    auto creds = senderCreds(m);
    auto euid = effectiveUid(creds.get());
    if (!euid) return unknownCaller(method);
    if (*euid == 0) return std::nullopt;
    if (access == Access::RootOrGroup) {
        if (auto group = corralGroup(); group && inGroup(creds.get(), *group)) return std::nullopt;
    }
    return OpError{ErrorKind::PermissionDenied,
                   "Permission denied: " + std::string(method) + " needs root" +
                       (access == Access::RootOrGroup ? " or group corral" : "") +
                       "; the caller runs as uid " + std::to_string(*euid) + "."};
}

std::optional<OpError> checkHostPath(sd_bus_message* m, std::string_view method,
                                     std::string_view value,
                                     const std::vector<std::filesystem::path>& storageDirs) {
    if (value.empty()) return std::nullopt;
    std::error_code ec;
    std::filesystem::path path(value);
    // A missing file fails the call with its own sentence ("cannot open ...").
    if (!std::filesystem::exists(path, ec)) return std::nullopt;
    auto euid = effectiveUid(senderCreds(m).get());
    if (!euid) return unknownCaller(method);
    if (*euid == 0 || imageInStorage(path, storageDirs)) return std::nullopt;
    return OpError{ErrorKind::PermissionDenied,
                   "Permission denied: " + std::string(method) + " of " + std::string(value) +
                       " needs root; other callers may only attach files inside the storage "
                       "directories ([storage] allowed_dirs: " +
                       listed(storageDirs) + "), judged after following symlinks."};
}

std::optional<OpError> checkDevicePaths(sd_bus_message* m, std::string_view method,
                                        const hypervisor::Device& device,
                                        const std::vector<std::filesystem::path>& storageDirs) {
    if (!device.kind) return std::nullopt;
    for (const auto& spec : device.kind->options) {
        if (spec.type != hypervisor::OptionType::Path) continue;
        if (auto denied = checkHostPath(m, method, device.text(spec.key), storageDirs))
            return denied;
    }
    return std::nullopt;
}

}  // namespace corral::supervisor

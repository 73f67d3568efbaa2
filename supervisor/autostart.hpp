// Autostart happens once per host boot: the first corrald start after the host booted starts
// the `autostart = true` instances; later starts (a restart, an upgrade) leave every VM as the
// administrator left it. The runtime dir (a tmpfs, emptied at boot) keeps a marker holding the
// kernel's boot id, so a runtime dir that survives a reboot still counts as a new boot.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace corral::supervisor {

inline constexpr const char* kBootMarkerName = "autostart-boot-id";
inline constexpr const char* kBootIdFile = "/proc/sys/kernel/random/boot_id";

// Whether a start with `currentBootId` is the first of its boot, given the marker's contents
// (nullopt: no marker). An unreadable boot id ("") counts as the boot the marker names.
bool isNewBoot(const std::optional<std::string>& marker, std::string_view currentBootId);

// The boot id in `file` without its newline; "" when it cannot be read.
std::string readBootId(const std::filesystem::path& file = kBootIdFile);

// Reads <runtimeDir>/autostart-boot-id, writes `currentBootId` there (atomically) and returns
// whether this is the first start of the boot. A marker that cannot be written is reported in
// `problem`; the answer stands (the next start may then autostart again).
bool claimBoot(const std::filesystem::path& runtimeDir, std::string_view currentBootId,
               std::string& problem);

}  // namespace corral::supervisor

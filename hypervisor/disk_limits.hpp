// I/O limits of a disk: the keys of the [[disk]] row (iops_rd, bps_wr, ..., their bursts *_max
// and throttle_group), their rules, and how they reach QEMU. corrald sets them with QMP
// block_set_io_throttle on the disk's device: the same call at boot (before the vCPUs run), at
// hotplug (right after device_add), on a migration's destination (before the state arrives) and
// for a live change (SetDiskLimits), on any disk of any running qemu, with no change to the
// block graph of disks without limits. Disks naming one throttle_group share one QEMU throttle
// group, so their limits are one budget; a disk without one has a group of its own,
// "corral-disk-<id>" (user group names cannot start with "corral").
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hypervisor/device.hpp"
#include "monitor/qmp_client.hpp"

namespace corral::hypervisor {

struct LimitKey {
    std::string_view key;   // TOML / a{sv} key
    std::string_view qmp;   // block_set_io_throttle argument
    std::string_view rate;  // a burst (*_max): the rate it belongs to; "" for a rate
    std::string_view noun;  // for messages: "bytes/s", "operations/s"
};

// The rates first (totals, then read, write), then their bursts in the same order.
inline constexpr std::array<LimitKey, 12> kLimitKeys = {{
    {"bps_total", "bps", "", "bytes/s"},
    {"bps_rd", "bps_rd", "", "bytes/s"},
    {"bps_wr", "bps_wr", "", "bytes/s"},
    {"iops_total", "iops", "", "operations/s"},
    {"iops_rd", "iops_rd", "", "operations/s"},
    {"iops_wr", "iops_wr", "", "operations/s"},
    {"bps_total_max", "bps_max", "bps_total", "bytes/s"},
    {"bps_rd_max", "bps_rd_max", "bps_rd", "bytes/s"},
    {"bps_wr_max", "bps_wr_max", "bps_wr", "bytes/s"},
    {"iops_total_max", "iops_max", "iops_total", "operations/s"},
    {"iops_rd_max", "iops_rd_max", "iops_rd", "operations/s"},
    {"iops_wr_max", "iops_wr_max", "iops_wr", "operations/s"},
}};
inline constexpr std::string_view kThrottleGroupKey = "throttle_group";

// QEMU's largest limit (THROTTLE_VALUE_MAX).
inline constexpr std::uint64_t kMaxLimit = 1'000'000'000'000'000ull;

// `options` followed by the options of the limit keys and throttle_group (the [[disk]] row).
std::vector<OptionSpec> withLimitOptions(std::vector<OptionSpec> options);

// The LimitKey called `key`, or nullptr.
const LimitKey* findLimitKey(std::string_view key);

// OptionCheck of a limit: a whole number above 0 and at most kMaxLimit, bytes with an optional
// binary unit ("1M"); normalised to its decimal digits.
std::optional<std::string> checkLimitValue(std::string& value);
// OptionCheck of throttle_group: the device id rule (hypervisor::checkDeviceId).
std::optional<std::string> checkThrottleGroup(std::string& value);

// The rule of limit `key` among the disk's options: a burst needs its rate and is at least it; a
// total excludes the read and write limits of its kind. nullopt when it holds.
std::optional<std::string> limitRule(std::string_view key, const Options& options);
// The first rule broken by any given limit, or nullopt.
std::optional<std::string> limitsProblem(const Options& options);

// The limits of `disk` that are set, by key, and its throttle group ("" for its own).
std::map<std::string, std::uint64_t, std::less<>> limitsOf(const Device& disk);
bool hasLimits(const Device& disk);
// The QEMU throttle group `disk` is in: its throttle_group, else "corral-disk-<id>".
std::string throttleGroupOf(const Device& disk);

// The arguments of block_set_io_throttle for `disk`'s limits (all rates 0: none).
monitor::Json throttleArgs(const Device& disk);
// block_set_io_throttle for `disk`.
monitor::awaitable<monitor::Result<void>> applyLimits(monitor::QmpClient& qmp, Device disk);

}  // namespace corral::hypervisor

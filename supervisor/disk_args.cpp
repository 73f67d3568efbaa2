#include "supervisor/disk_args.hpp"

#include <string>

#include "hypervisor/disk_limits.hpp"
#include "hypervisor/disk_resize.hpp"
#include "hypervisor/instance_name.hpp"
#include "supervisor/dbus_args.hpp"

namespace corral::supervisor {

std::optional<OpError> checkResizeArguments(std::string_view id, std::uint64_t bytes) {
    if (auto bad = checkDeviceIdArgument(id)) return bad;
    auto refuse = [&](const std::string& why) {
        return OpError{ErrorKind::InvalidArgument,
                       "ResizeDisk: " + std::to_string(bytes) + " bytes " + why + "."};
    };
    if (bytes == 0) return refuse("is no size for a disk");
    if (bytes % hypervisor::kDiskSectorBytes != 0)
        return refuse("is not a multiple of 512 (QEMU sizes disks in 512-byte sectors)");
    if (bytes > kMaxDiskBytes)
        return refuse("is more than QEMU's largest image (" + std::to_string(kMaxDiskBytes) + ")");
    return std::nullopt;
}

Outcome<std::map<std::string, std::uint64_t>> validateSetDiskLimits(
    std::string_view id, const std::vector<LimitEntry>& entries) {
    if (auto bad = checkDeviceIdArgument(id)) return *bad;
    auto invalid = [](const std::string& why) {
        return OpError{ErrorKind::InvalidArgument, "SetDiskLimits: " + why + "."};
    };
    std::string keys;
    for (const auto& limit : hypervisor::kLimitKeys)
        keys += (keys.empty() ? "" : ", ") + std::string(limit.key);
    if (entries.empty()) return invalid("no limits given; the keys are " + keys);
    if (entries.size() > hypervisor::kLimitKeys.size())
        return invalid("more entries than there are limits (" + keys + ")");
    std::map<std::string, std::uint64_t> changes;
    for (const auto& entry : entries) {
        std::string key = hypervisor::quoteForMessage(entry.key);
        if (entry.key == hypervisor::kThrottleGroupKey)
            return invalid("throttle_group is chosen in the definition or at attach, not here");
        if (!hypervisor::findLimitKey(entry.key))
            return invalid("unknown limit " + key + "; the keys are " + keys);
        if (entry.type != "t" && entry.type != "u" && entry.type != "x" && entry.type != "i")
            return invalid(key + " wants a number (t), got type " + entry.type);
        if (entry.negative)
            return invalid(key + " is negative; 0 removes the limit, above 0 sets it");
        if (entry.value > hypervisor::kMaxLimit)
            return invalid(key + " " + std::to_string(entry.value) +
                           " is more than QEMU's largest (" +
                           std::to_string(hypervisor::kMaxLimit) + ")");
        if (!changes.emplace(entry.key, entry.value).second) return invalid(key + " given twice");
    }
    return changes;
}

}  // namespace corral::supervisor

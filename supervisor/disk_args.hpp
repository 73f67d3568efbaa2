// The arguments of the disk methods (ResizeDisk, SetDiskLimits), in plain types, and the rules
// corrald checks before it asks the VM: no sd-bus here, so they are unit-tested without a bus.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "supervisor/op_error.hpp"
#include "supervisor/vm.hpp"

namespace corral::supervisor {

// The largest size QEMU takes for an image (its sizes are signed 64-bit), rounded down to a
// whole 512-byte sector.
inline constexpr std::uint64_t kMaxDiskBytes = 0x7fff'ffff'ffff'fe00ull;

// ResizeDisk(s id, t bytes): a device id and a new size that is a whole number of 512-byte
// sectors, more than 0 and at most kMaxDiskBytes. Whether it grows the disk is the VM's check.
std::optional<OpError> checkResizeArguments(std::string_view id, std::uint64_t bytes);

// One entry of SetDiskLimits' a{sv}: its key, the D-Bus type of its value and the value when
// it is a number ("t", "u", "x", "i"; `negative` for a signed value below 0).
struct LimitEntry {
    std::string key;
    std::string type;
    std::uint64_t value = 0;
    bool negative = false;
};

// SetDiskLimits(s id, a{sv} limits): a device id and at least one entry, each a limit key of
// hypervisor/disk_limits.hpp given once with an unsigned number (t or u) from 0 (removes the
// limit) to hypervisor::kMaxLimit. throttle_group is refused (it is chosen in the definition or
// at attach). Returns the changes by key.
Outcome<std::map<std::string, std::uint64_t>> validateSetDiskLimits(
    std::string_view id, const std::vector<LimitEntry>& entries);

}  // namespace corral::supervisor

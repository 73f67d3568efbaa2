// The arguments of the Instance methods that take a device id, a path or an option dictionary,
// in plain types, and the rules that decide whether corrald acts on them. No sd-bus here: the
// D-Bus adaptor only copies the message into these types, so the rules are unit-tested and
// fuzzed without a bus.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "supervisor/op_error.hpp"
#include "supervisor/vm.hpp"

namespace corral::supervisor {

// One entry of an a{sv} as it came off the bus.
struct OptionEntry {
    std::string key;
    std::string type;   // D-Bus signature of the variant's contents: "s", "b", "as", ...
    std::string text;   // the value when type is "s"
    bool flag = false;  // the value when type is "b"
};

// The entries in bus order; a key sent twice appears twice, so that it can be refused.
using OptionDict = std::vector<OptionEntry>;

// No method takes more options than this, so a dict with more is refused whatever its entries
// are: a reader may stop after kMaxOptionEntries + 1 entries instead of copying a huge message.
inline constexpr std::size_t kMaxOptionEntries = 16;

// An AttachDisk call that passed every rule.
struct DiskRequest {
    std::string id;
    std::string path;
    bool readonly = false;
    std::string format;  // "raw" | "qcow2"; empty: from the file name (.qcow2 or raw)
};

// InvalidArgument unless `id` is a valid device id (hypervisor::checkDeviceId).
std::optional<OpError> checkDeviceIdArgument(std::string_view id);

// AttachDisk(s id, s path, a{sv} options): a device id, an absolute path shorter than PATH_MAX
// with no NUL and no ".." component, and only the option readonly (b), each key once.
Outcome<DiskRequest> validateAttachDisk(std::string_view id, std::string_view path,
                                        const OptionDict& options);

// AttachNic(s id, a{sv} options): a device id and the options mode (s: user, tap or bridge,
// default user), bridge (s: an interface name, required with mode bridge and refused otherwise)
// and mac (s: a unicast xx:xx:xx:xx:xx:xx, returned in lower case), each key once.
Outcome<NicOptions> validateAttachNic(std::string_view id, const OptionDict& options);

}  // namespace corral::supervisor

// The arguments of the Instance methods that take a device id, a path or an option dictionary,
// in plain types, and the rules that decide whether corrald acts on them: an option dictionary
// is read against the device kind's schema (hypervisor/device.hpp), so the rules of a kind
// exist once for TOML and D-Bus. No sd-bus here: the D-Bus adaptor only copies the message into
// these types, so the rules are unit-tested and fuzzed without a bus.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
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
inline constexpr std::size_t kMaxOptionEntries = 24;

// The longest timeout a method takes (one year, as corralctl's --timeout): a larger value is a
// mistake (2^64 - 1 once left a VM shutting down forever), not a wish to wait.
inline constexpr std::uint64_t kMaxTimeoutUsec = 31'536'000ull * 1'000'000ull;

// InvalidArgument unless `usec` is at most kMaxTimeoutUsec; `what` names the argument
// ("Shutdown: timeout_usec").
std::optional<OpError> checkTimeoutArgument(std::string_view what, std::uint64_t usec);

// InvalidArgument unless `id` is a valid device id (hypervisor::checkDeviceId).
std::optional<OpError> checkDeviceIdArgument(std::string_view id);

// AttachDevice(s kind, s id, a{sv} options): a kind that can be attached to a running VM, a
// device id, and the options of the kind's schema: the keys of its TOML table, with the same
// types (s or b), rules and defaults, each key once. The device is returned with its options
// complete but for values derived from the instance name (a NIC's MAC), which hotplug fills in.
Outcome<hypervisor::Device> validateAttachDevice(std::string_view kind, std::string_view id,
                                                 const OptionDict& options);

// ChangeMedia(s id, s path): a device id and "" (eject) or the absolute path (as for AttachDisk)
// of a regular file corrald can read, an ISO image.
std::optional<OpError> checkChangeMediaArguments(std::string_view id, std::string_view path);

// AttachDisk(s id, s path, a{sv} options): a device id, an absolute path shorter than PATH_MAX
// with no NUL and no ".." component, and only the options readonly (b) and format (s: raw or
// qcow2; default from the file name: .qcow2 is qcow2, anything else raw), each key once.
Outcome<hypervisor::Device> validateAttachDisk(std::string_view id, std::string_view path,
                                               const OptionDict& options);

// AttachNic(s id, a{sv} options): AttachDevice("nic", id, options): the options mode (s: user,
// tap or bridge, default user), bridge (s: an interface name, required with mode bridge and
// refused otherwise) and mac (s: a unicast xx:xx:xx:xx:xx:xx, kept in lower case).
Outcome<hypervisor::Device> validateAttachNic(std::string_view id, const OptionDict& options);

// Screenshot(s path): an absolute path as for AttachDisk, whose directory exists on this host
// and which is not itself a directory. qemu (root) writes the file.
std::optional<OpError> checkScreenshotPath(std::string_view path);

// The options of a method that takes only booleans (Undefine: remove_storage; Define: none):
// each key one of `flags`, of type b, given once, at most kMaxOptionEntries entries; the flags
// given, by key. Refusals are worded as for the Attach methods.
Outcome<std::map<std::string, bool, std::less<>>> validateFlags(
    std::string_view method, const OptionDict& options, const std::vector<std::string_view>& flags);

}  // namespace corral::supervisor

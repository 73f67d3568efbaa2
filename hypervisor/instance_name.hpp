// Instance names are used in file names, D-Bus paths and QEMU ids, so they are checked at every
// boundary before any path is built from them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace corral::hypervisor {

// nullopt if `name` matches [A-Za-z0-9][A-Za-z0-9_.-]{0,62}; otherwise a sentence saying why not.
std::optional<std::string> checkInstanceName(std::string_view name);

// Device ids (disks, NICs) become QEMU ids: a letter then up to 31 of [A-Za-z0-9_-], and not
// starting with "corral" (corral's own devices). nullopt if valid, else a sentence why not.
std::optional<std::string> checkDeviceId(std::string_view id);

// Linux network interface names (the kernel's dev_valid_name): 1 to 15 bytes, not "." or "..",
// no '/', ':', whitespace or NUL. nullopt if valid, else a sentence why not.
std::optional<std::string> checkInterfaceName(std::string_view name);

// `text` in double quotes for an error message: printable ASCII kept, '"' and '\\' escaped,
// every other byte as \xNN, cut after 64 bytes. The result is printable ASCII, so it is valid
// UTF-8 whatever `text` was (sd-bus refuses error messages that are not).
std::string quoteForMessage(std::string_view text);

}  // namespace corral::hypervisor

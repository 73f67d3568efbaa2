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

}  // namespace corral::hypervisor

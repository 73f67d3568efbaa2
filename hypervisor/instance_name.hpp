// Instance names are used in file names, D-Bus paths and QEMU ids, so they are checked at every
// boundary before any path is built from them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace corral::hypervisor {

// nullopt if `name` matches [A-Za-z0-9][A-Za-z0-9_.-]{0,62}; otherwise a sentence saying why not.
std::optional<std::string> checkInstanceName(std::string_view name);

}  // namespace corral::hypervisor

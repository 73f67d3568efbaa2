// Who called: the access rules corrald checks itself, on top of the bus policy
// (etc/dbus/org.corral1.conf lets root and group corral call every method).
#pragma once

#include <systemd/sd-bus.h>

#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

#include "hypervisor/device.hpp"
#include "supervisor/op_error.hpp"

namespace corral::supervisor {

enum class Access { Root, RootOrGroup };

// nullopt if the sender of `m` may call `method`: effective uid 0, or with RootOrGroup also a
// member of group corral.
std::optional<OpError> checkCaller(sd_bus_message* m, std::string_view method, Access access);

// nullopt if the sender of `m` may hand `device` to a VM: root may name any host file; anyone
// else only files that lie, resolved, inside one of `storageDirs` ([storage] allowed_dirs).
// Without this, AttachDisk of /etc/shadow would let group corral read any root file through
// the guest.
std::optional<OpError> checkDevicePaths(sd_bus_message* m, std::string_view method,
                                        const hypervisor::Device& device,
                                        const std::vector<std::filesystem::path>& storageDirs);
// The same rule for one host file a method hands to a VM (ChangeMedia's ISO); "" is none.
std::optional<OpError> checkHostPath(sd_bus_message* m, std::string_view method,
                                     std::string_view path,
                                     const std::vector<std::filesystem::path>& storageDirs);

}  // namespace corral::supervisor

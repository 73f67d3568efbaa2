// The destination's checks of an incoming migration that need no qemu: the device records
// against this host's slot plan, and the listening ports of [migration] port_range.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hypervisor/device.hpp"
#include "hypervisor/instance_spec.hpp"
#include "supervisor/op_error.hpp"

namespace corral::supervisor {

// The boot-time records must be what this host's own slot plan makes of the definition: a
// source whose definition or corrald differs would otherwise get a qemu of another layout.
std::optional<OpError> checkLayout(const hypervisor::InstanceSpec& spec,
                                   const std::vector<hypervisor::Device>& records);

bool isWildcard(const std::string& address);
// Whether nothing listens on ADDRESS:PORT (a bind that succeeds and is closed again).
bool portFree(const std::string& address, std::uint16_t port);
// ADDRESS as a URI's host part ([...] around IPv6).
std::string hostPart(const std::string& address);

}  // namespace corral::supervisor

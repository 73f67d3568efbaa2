// A device attached to a running VM may not share a value its kind marks unique (a NIC's MAC,
// given or derived) with a device the VM already has, boot-time or hotplugged: the same rule
// the TOML loader applies to a definition.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "hypervisor/device.hpp"
#include "supervisor/op_error.hpp"

namespace corral::supervisor {

// The kind's derived values are filled in first. InvalidArgument naming the other device, e.g. "MAC
// address 52:54:00:12:34:56 is already used by nic net0 of web1"; nullopt when nothing clashes. A
// device with the same id is not compared (the id check refuses it on its own).
std::optional<OpError> uniqueValueClash(const hypervisor::Device& device,
                                        const std::vector<hypervisor::Device>& current,
                                        const std::string& instanceName);

}  // namespace corral::supervisor

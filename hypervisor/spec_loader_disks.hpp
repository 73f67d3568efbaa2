// The throttle groups of an instance file's [[disk]] tables (private to the instance loader):
// disks naming one throttle_group share one budget, so they carry one set of limits.
#pragma once

#include "hypervisor/instance_spec.hpp"
#include "hypervisor/toml_reader.hpp"

namespace corral::hypervisor {

// After the devices are loaded: within each group, the disks that give limits must give the
// same ones (an error at the later one's throttle_group otherwise); the disks that give none
// take the group's, so that every member's record has the limits in force.
void checkThrottleGroups(TomlReader& l, const toml::table& root, InstanceSpec& spec);

}  // namespace corral::hypervisor

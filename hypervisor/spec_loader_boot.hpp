// [firmware] and [boot] order of the instance loader (private to spec_loader.cpp).
#pragma once

#include "hypervisor/toml_reader.hpp"

namespace corral::hypervisor {

// [firmware] type, secure_boot; needs spec.machine loaded (Secure Boot needs q35).
void loadFirmware(TomlReader& l, const toml::table& t, InstanceSpec& spec);

// [boot] order, if `boot` has it: fills spec.bootOrder, refuses unknown and repeated entries,
// an entry with no device of its kind in `root`, and kernel, initrd or cmdline beside it.
// Returns whether `boot` had an order (then it is no direct kernel boot).
bool loadBootOrder(TomlReader& l, const toml::table& root, const toml::table& boot,
                   InstanceSpec& spec);

}  // namespace corral::hypervisor

// The [display] table of an instance file (private to the instance loader).
#pragma once

#include "hypervisor/display.hpp"
#include "hypervisor/toml_reader.hpp"

namespace corral::hypervisor {

// Reads [display] into `display`; every problem a diagnostic at its key's value. Without a
// `vga` key the VGA device is std with VNC and none without.
void loadDisplay(TomlReader& l, const toml::table& t, DisplaySpec& display);

}  // namespace corral::hypervisor

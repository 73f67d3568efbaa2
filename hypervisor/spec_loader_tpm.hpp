// The [tpm] table of an instance file (private to the instance loader).
#pragma once

#include "hypervisor/toml_reader.hpp"
#include "hypervisor/tpm.hpp"

namespace corral::hypervisor {

void loadTpm(TomlReader& l, const toml::table& t, TpmSpec& tpm);

}  // namespace corral::hypervisor

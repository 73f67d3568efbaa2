#include "hypervisor/spec_loader_tpm.hpp"

namespace corral::hypervisor {

void loadTpm(TomlReader& l, const toml::table& t, TpmSpec& tpm) {
    l.checkKeys(t, {"type"}, "[tpm]");
    if (auto type = l.choice(t, "type", kTpmTypes)) tpm.type = *type;
}

}  // namespace corral::hypervisor

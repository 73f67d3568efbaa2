// [machine]'s CPU keys (private to the instance loader).
#pragma once

#include "hypervisor/toml_reader.hpp"

namespace corral::hypervisor {

// The keys of [machine] loadCpu reads.
inline const Keys kCpuKeys = {"cpu", "cpu_flags", "sockets", "cores", "threads"};

// cpu, cpu_flags, sockets, cores and threads of [machine] `t` into m.cpu; m.cpus already read.
void loadCpu(TomlReader& l, const toml::table& t, MachineSpec& m);

}  // namespace corral::hypervisor

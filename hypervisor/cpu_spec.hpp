// [machine] cpu, cpu_flags, sockets, cores, threads: the CPU model the guest sees and how its
// vCPUs are grouped.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corral::hypervisor {

// The models that need no lookup: the host's own CPU (KVM only) and everything the
// accelerator can offer.
inline constexpr std::string_view kCpuHost = "host";
inline constexpr std::string_view kCpuMax = "max";

struct CpuSpec {
    // "host", "max" or a QEMU model name; "" for the default (host with KVM, max with TCG).
    std::string model;
    std::vector<std::string> flags;  // "+name" / "-name", in file order
    // The topology as given; 0 when not given. Complete (product = cpus) when any is given.
    unsigned sockets = 0;
    unsigned cores = 0;
    unsigned threads = 0;
};

// Whether `name` may be a QEMU CPU model name: letters, digits, '.', '_' and '-'.
bool isCpuModelSyntax(std::string_view name);
// Whether `flag` is "+name" or "-name" with name of [a-z0-9_.-]+.
bool isCpuFlagSyntax(std::string_view flag);

// The topology of `cpus` vCPUs with the given counts (0 = not given) completed as QEMU's -smp
// completes them (threads 1, then sockets before cores), in `cpu`; or why it does not add up.
std::optional<std::string> completeTopology(unsigned cpus, CpuSpec& cpu);

// The loader's check of a model name against a qemu binary: nullopt when the binary has it (or
// cannot tell), else why not. Unset (the default), the loader checks the syntax only; corrald
// and corral-validate set one (cpu_models.hpp) before they load definitions.
using CpuModelCheck = std::function<std::optional<std::string>(std::string_view model)>;
void setCpuModelCheck(CpuModelCheck check);

}  // namespace corral::hypervisor

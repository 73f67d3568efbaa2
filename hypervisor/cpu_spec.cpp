#include "hypervisor/cpu_spec.hpp"

#include <algorithm>
#include <cstdint>

namespace corral::hypervisor {

namespace {

bool allOf(std::string_view text, bool upperToo) {
    return !text.empty() && std::all_of(text.begin(), text.end(), [&](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
               c == '-' || (upperToo && c >= 'A' && c <= 'Z');
    });
}

}  // namespace

bool isCpuModelSyntax(std::string_view name) {
    return name.size() <= 64 && allOf(name, true);
}

bool isCpuFlagSyntax(std::string_view flag) {
    return flag.size() >= 2 && flag.size() <= 64 && (flag[0] == '+' || flag[0] == '-') &&
           allOf(flag.substr(1), false);
}

std::optional<std::string> completeTopology(unsigned cpus, CpuSpec& cpu) {
    if (!cpu.sockets && !cpu.cores && !cpu.threads) return std::nullopt;
    // As QEMU's -smp since 6.2: the cores absorb what is left, then the sockets, then threads.
    if (!cpu.cores) {
        cpu.sockets = cpu.sockets ? cpu.sockets : 1;
        cpu.threads = cpu.threads ? cpu.threads : 1;
        cpu.cores = cpus / (cpu.sockets * cpu.threads);
    } else if (!cpu.sockets) {
        cpu.threads = cpu.threads ? cpu.threads : 1;
        cpu.sockets = cpus / (cpu.cores * cpu.threads);
    } else if (!cpu.threads) {
        cpu.threads = cpus / (cpu.sockets * cpu.cores);
    }
    auto product = std::uint64_t(cpu.sockets) * cpu.cores * cpu.threads;
    if (product == cpus) return std::nullopt;
    return "sockets * cores * threads = " + std::to_string(cpu.sockets) + " * " +
           std::to_string(cpu.cores) + " * " + std::to_string(cpu.threads) + " = " +
           std::to_string(product) + ", but cpus = " + std::to_string(cpus);
}

}  // namespace corral::hypervisor

#include "hypervisor/qemu_argv_cpu.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace corral::hypervisor {

std::vector<std::string> cpuArgs(const MachineSpec& machine, bool kvm) {
    const auto& cpu = machine.cpu;
    std::string model = !cpu.model.empty() ? cpu.model : std::string(kvm ? kCpuHost : kCpuMax);
    // "+name" / "-name" as QEMU's property syntax, which mixes with nothing ambiguous.
    for (const auto& flag : cpu.flags)
        model += "," + flag.substr(1) + (flag.front() == '+' ? "=on" : "=off");
    std::string smp = std::to_string(machine.cpus);
    if (cpu.sockets) {
        smp = "cpus=" + smp + ",sockets=" + std::to_string(cpu.sockets) +
              ",cores=" + std::to_string(cpu.cores) + ",threads=" + std::to_string(cpu.threads);
    }
    return {"-cpu", model, "-smp", smp};
}

bool runsUnderKvm(Accel accel) {
    if (accel != Accel::KvmOrTcg) return accel == Accel::Kvm;
    int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) return false;
    ::close(fd);
    return true;
}

}  // namespace corral::hypervisor

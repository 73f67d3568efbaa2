// -cpu and -smp: the CPU model with its flags and the vCPU topology of [machine].
#pragma once

#include <string>
#include <vector>

#include "hypervisor/instance_spec.hpp"

namespace corral::hypervisor {

// "-cpu MODEL,flag=on,..." and "-smp N" (or "-smp cpus=N,sockets=S,cores=C,threads=T" when a
// topology is given). Without a model: "host" when `kvm`, else "max".
std::vector<std::string> cpuArgs(const MachineSpec& machine, bool kvm);

// Whether qemu will run the machine under KVM: accel "kvm", or "kvm:tcg" with /dev/kvm usable
// (openable read-write) at launch.
bool runsUnderKvm(Accel accel);

}  // namespace corral::hypervisor

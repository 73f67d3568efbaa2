// Each running VM registered with systemd-machined (org.freedesktop.machine1), as libvirt does,
// so that `machinectl list` and `machinectl status NAME` show it with its scope and qemu.
// Registration never blocks and never fails a Start: every outcome is one log line.
#pragma once

#include <sys/types.h>
#include <systemd/sd-bus.h>

#include <functional>
#include <string>
#include <vector>

#include "hypervisor/device.hpp"
#include "hypervisor/machine_uuid.hpp"
#include "supervisor/instance.hpp"

namespace corral::supervisor {

struct MachineIdentity {
    std::string name;  // the instance name
    hypervisor::UuidBytes uuid{};
    pid_t leader = 0;            // qemu
    std::vector<int> ifindices;  // its tap NICs: RegisterMachineWithNetwork
};

// What machined is told about a running qemu: the UUID its argv gives (-uuid), the taps its
// NICs opened (interfaces that do not exist any more are left out).
MachineIdentity identifyMachine(const std::string& name, pid_t leader,
                                const std::vector<std::string>& argv,
                                const std::vector<hypervisor::Device>& devices);

// Asynchronous calls to machined on a system bus connection that someone else drives
// (ScopeManager's); `kick` is called after each send.
class Machined {
  public:
    Machined(sd_bus* bus, std::function<void()> kick, LogSink log);

    // RegisterMachine[WithNetwork]: service "corral", class "vm", no root directory. Call it
    // once qemu is in its scope: machined names the unit of the leader's cgroup as the
    // machine's unit. A machine of that name whose leader is this qemu (a corrald restart) is
    // fine; machined missing or refusing is logged.
    void add(const MachineIdentity& machine);
    // UnregisterMachine. Harmless when machined has already dropped the machine with its scope.
    void remove(const std::string& name);

  private:
    sd_bus* bus_;
    std::function<void()> kick_;
    LogSink log_;
};

}  // namespace corral::supervisor

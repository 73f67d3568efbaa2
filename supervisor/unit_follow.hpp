// corral@NAME.service follows the VM: whenever a VM defined in /etc/corral/instances starts
// running, however it was started (corralctl, autostart, a crash restart, the unit itself),
// corrald starts its unit, whose `corralctl run` then follows the running VM. `systemctl status
// corral@NAME` is active exactly while the VM runs (docs/architecture.md "## systemd").
#pragma once

#include <map>
#include <string>

#include "common/signal.hpp"
#include "supervisor/registry.hpp"
#include "supervisor/systemd_scope.hpp"

namespace corral::supervisor {

class UnitFollower {
  public:
    UnitFollower(Registry& registry, ScopeManager& scopes);
    UnitFollower(const UnitFollower&) = delete;
    UnitFollower& operator=(const UnitFollower&) = delete;

  private:
    void watch(Vm& vm);

    Registry& registry_;
    ScopeManager& scopes_;
    std::map<std::string, Connection> watches_;
    Connection added_, removing_;
};

}  // namespace corral::supervisor

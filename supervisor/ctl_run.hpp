// `corralctl run NAME`: the main process of corral@NAME.service. Starts the VM unless it already
// runs, tells systemd READY=1 once it does, then follows it until it ends.
#pragma once

#include <string>

#include "supervisor/ctl_client.hpp"

namespace corral::supervisor::ctl {

// Returns 0 when the VM ends `stopped` (graceful shutdown or guest poweroff), 1 when it ends
// `crashed` or cannot be started. A corrald restart meanwhile is waited out: the VM keeps running.
int runInstance(Client& client, const std::string& name);

}  // namespace corral::supervisor::ctl

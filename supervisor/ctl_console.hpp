// `corralctl console`: the terminal attached to a VM's serial socket until Ctrl-].
#pragma once

#include <string>

namespace corral::supervisor::ctl {

// Returns an exit code; prints why on failure.
int runConsole(const std::string& socketPath, const std::string& name);

}  // namespace corral::supervisor::ctl

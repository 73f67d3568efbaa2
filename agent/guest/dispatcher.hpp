// The guest daemon's methods: list_commands and execute over the guest's command directories,
// as python-negotiator's GuestAgent serves them.
#pragma once

#include <filesystem>
#include <vector>

#include "agent/guest/run_command.hpp"
#include "agent/rpc.hpp"

namespace corral::agent::guest {

struct GuestCommands {
    // Looked up in order by the basename of argv[0]: the user's, then the built-in directory.
    std::vector<std::filesystem::path> dirs;
    // A name in none of `dirs` runs from PATH unless this is set (the original's strict lookup).
    bool commandsOnly = false;
    RunLimits limits;
};

Dispatcher makeDispatcher(GuestCommands commands);

}  // namespace corral::agent::guest

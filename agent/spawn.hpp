// Starting a command the way both ends of the agent run them (no Boost: the guest agent links it).
#pragma once

#include <sys/types.h>

#include <array>
#include <string>
#include <vector>

namespace corral::agent {

struct SpawnRequest {
    std::string program;                            // looked up in PATH when `searchPath`
    std::vector<std::string> argv;                  // argv[0] included
    const std::vector<std::string>* env = nullptr;  // null: the caller's environment
    std::array<int, 3> stdio{-1, -1, -1};           // become fds 0, 1 and 2
    bool closeOthers = false;                       // close every other fd from 3 up
    bool searchPath = false;
};

// Spawns in a new process group (a timeout kills the whole group) with an empty signal mask and
// default signal dispositions, whatever the caller had. Returns 0 and sets `pid`, or an errno.
int spawnCommand(const SpawnRequest& request, pid_t& pid);

}  // namespace corral::agent

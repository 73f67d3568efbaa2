// corralctl exec: a command in the guest through its agent, as a local command behaves: stdin
// passed on (when it is not a terminal), stdout and stderr apart and byte for byte, the
// guest's exit status as corralctl's own.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "supervisor/ctl_client.hpp"

namespace corral::supervisor::ctl {

// The most of stdin passed to the guest: the agent's message limit is 16 MiB, base64 takes a
// third more, and the rest of the call needs room.
inline constexpr std::size_t kMaxExecInput = 8u << 20;

// Instance.GuestRun; with an agent that lacks it (NotSupported: the original negotiator-guest)
// GuestExecute, which takes text in and gives text out and has no exit status. Returns the exit
// code for corralctl.
int runExec(Client& client, const std::string& name, const std::vector<std::string>& argv,
            std::uint64_t timeoutUsec, bool json);

}  // namespace corral::supervisor::ctl

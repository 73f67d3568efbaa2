// Runs one command for the guest agent: posix_spawn, stdin/stdout/stderr pipes driven by poll,
// a deadline and an output cap. Blocking by design: the guest agent serves one call at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "agent/codec.hpp"

namespace corral::agent::guest {

// The daemon's defaults: python-negotiator bounds neither, so a command may run for an hour and
// its output may fill a whole message.
struct RunLimits {
    std::chrono::milliseconds timeout{std::chrono::hours(1)};
    std::size_t maxOutput = kDefaultMaxMessage;
};

struct RunResult {
    bool ok = false;
    std::string output;  // stdout (ok only)
    std::string error;   // why it failed: exit code and stderr tail, timeout, output cap, spawn
};

// `program` is the path (or PATH-relative name) to execute, `argv[0]` is reported in messages.
RunResult runCommand(const std::string& program, const std::vector<std::string>& argv,
                     const std::optional<std::string>& input, const RunLimits& limits);

}  // namespace corral::agent::guest

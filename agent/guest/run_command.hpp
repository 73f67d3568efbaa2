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

// The port a call came in on, watched while its command runs: a hangup there means the host that
// asked has gone (its own timeout ran out), and a host that connects next must not be handed the
// answer to the call it never made. A port shows a hangup only while the host is away: one
// that reconnects before the agent looks (within microseconds) still gets the late reply.
struct HangupWatch {
    int fd = -1;
    bool hungUp = false;
};

// The daemon's defaults: python-negotiator bounds neither, so a command may run for an hour and
// its output may fill a whole message.
struct RunLimits {
    std::chrono::milliseconds timeout{std::chrono::hours(1)};
    std::size_t maxOutput = kDefaultMaxMessage;
    HangupWatch* hangup = nullptr;  // set by the daemon; polled while the command runs
    // Keep all of stderr (within maxOutput, which then bounds stdout and stderr together)
    // instead of its tail for the error text: corral_run returns it.
    bool keepStderr = false;
};

struct RunResult {
    bool ok = false;     // ran and exited 0
    std::string output;  // stdout (also of a command that ran and failed)
    std::string error;   // why it failed: exit code and stderr tail, timeout, output cap, spawn
    // Set once the command ran to its end: its status as a shell reports it (0..255, 128 + N
    // for signal N), and its stderr (the tail unless RunLimits::keepStderr).
    int exitStatus = -1;
    std::string errors;
};

// `program` is the path (or PATH-relative name) to execute, `argv[0]` is reported in messages.
RunResult runCommand(const std::string& program, const std::vector<std::string>& argv,
                     const std::optional<std::string>& input, const RunLimits& limits);

}  // namespace corral::agent::guest

// Runs one command from an Asio io_context without blocking it: posix_spawn into its own process
// group, stdin/stdout/stderr as stream descriptors, exit watched through a pidfd, a deadline that
// kills the whole group, and an output cap.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "agent/codec.hpp"

namespace corral::agent {

struct CommandOutcome {
    bool ok = false;
    std::string output;  // stdout (ok only)
    std::string error;   // exit code + stderr tail, timeout, output cap or spawn failure
};

struct CommandSpec {
    std::string program;               // absolute path; never looked up in PATH
    std::vector<std::string> argv;     // argv[0] is what messages call the command
    std::optional<std::string> input;  // fed to stdin, then stdin is closed
    std::vector<std::string> env;      // the command's whole environment ("NAME=value")
    std::chrono::milliseconds timeout{std::chrono::seconds(10)};
    std::size_t maxOutput = kDefaultMaxMessage;
};

// Runs `spec` to completion; never throws on command failure (reported in the outcome).
boost::asio::awaitable<CommandOutcome> runCommand(boost::asio::any_io_executor executor,
                                                  CommandSpec spec);

}  // namespace corral::agent

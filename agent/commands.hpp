// Command directories shared by both ends: which names may run, where they are found, and how a
// failed run is reported. No Boost, no I/O beyond directory lookups.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corral::agent {

// Where user-defined commands live on either side (python-negotiator's USER_COMMANDS_DIRECTORY).
inline constexpr const char* kUserCommandsDir = "/usr/lib/negotiator/commands";
// Commands shipped with the agent itself, looked up after the user directory.
inline constexpr const char* kBuiltinCommandsDir = "/usr/lib/negotiator/builtin-commands";
// Bytes of stderr quoted in a failure message.
inline constexpr std::size_t kStderrTail = 2048;

// A plain file name: not empty, no '/', no "..", no NUL, not ".".
bool isSafeCommandName(std::string_view name);

// Names of the executable regular files (or links to them) directly inside any of `dirs`,
// sorted, without duplicates; a missing directory contributes nothing.
std::vector<std::string> listCommands(const std::vector<std::filesystem::path>& dirs);

// The first `dir/name` that is an executable file, in the order given.
std::optional<std::filesystem::path> findCommand(std::string_view name,
                                                 const std::vector<std::filesystem::path>& dirs);

// "command 'name' failed with exit code 3: <stderr tail>" (or "was killed by signal 9") from a
// waitpid status.
std::string describeFailure(std::string_view name, int waitStatus, std::string_view stderrText);

// Keeps at most the last `limit` bytes of `text`, cut at a line start when possible.
std::string tail(std::string_view text, std::size_t limit);

}  // namespace corral::agent

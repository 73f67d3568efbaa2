// Splits a command line as Python's shlex.split() does, which the original CLIs use: space, tab,
// CR and LF separate, single quotes are literal, inside double quotes only \" and \\ are escapes,
// a backslash outside quotes escapes any character. No expansion of any kind.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corral::agent {

// nullopt on an unterminated quote or a trailing backslash.
std::optional<std::vector<std::string>> splitCommandLine(std::string_view line);

}  // namespace corral::agent

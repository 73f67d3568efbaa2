// Splits a command line the way POSIX shells (and Python's shlex.split) do for plain words:
// whitespace separates, single quotes are literal, double quotes allow \" \\ \$ \`, backslash
// escapes outside quotes. No expansion of any kind.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corral::agent {

// nullopt on an unterminated quote or a trailing backslash.
std::optional<std::vector<std::string>> splitCommandLine(std::string_view line);

}  // namespace corral::agent

// What negotiator-host and negotiator-guest share with the original CLIs: the syntax -t takes and
// how a result is printed. No I/O.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corral::agent {

// The most seconds the original takes (alarm() gets a C int).
inline constexpr long long kMaxTimeoutSeconds = 2147483647;

// -t SECONDS as the original's int() reads it ("10", " 10 ", "+10", "1_000", "-1"), plus a
// fraction ("0.5"). Zero or less means no limit and comes back as 0 ms (the original hands a
// negative value to alarm(), which takes it as about 136 years). nullopt: not a number, or more
// than kMaxTimeoutSeconds.
std::optional<std::chrono::milliseconds> parseTimeout(std::string_view text);

// What the original CLIs print for execute's result: the text without trailing whitespace, then
// one newline.
std::string printableOutput(std::string_view output);

// What they print for list_commands' result: the names sorted, one a line; an empty list is an
// empty line.
std::string printableList(std::vector<std::string> names);

}  // namespace corral::agent

// The two methods both ends serve, read from a request the way python-negotiator 0.12.2 reads
// them, and python-executor's rules for the text execute() returns. No I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "agent/rpc.hpp"

namespace corral::agent {

// execute(*argv, input=None, **ignored): the original hands only `input` on and ignores every
// other keyword, whatever its type (its own CLIs send capture=True).
struct ExecuteRequest {
    std::vector<std::string> argv;     // as sent; never empty
    std::optional<std::string> input;  // stdin text; none: stdin is empty
};

// The request, or the error reply for one the original refuses too (no command name, an input
// that is not text).
std::variant<ExecuteRequest, Reply> readExecute(const Call& call);

// list_commands() takes no arguments: the refusal for a call that passes some.
std::optional<Reply> checkListCommands(const Call& call);

// The name execute() looks up in the command directories: the basename of argv[0], as Python's
// os.path.basename gives it ("" for "dir/").
std::string commandName(std::string_view argv0);

// What python-executor's capture returns for a command's stdout (valid UTF-8): the text with
// leading and trailing whitespace removed when what is left is a single line, else unchanged.
std::string capturedOutput(std::string_view text);

// `text` without trailing whitespace, as Python's str.rstrip() (Unicode spaces included).
std::string_view rstripWhitespace(std::string_view text);
// `text` without leading and trailing whitespace, as Python's str.strip().
std::string_view stripWhitespace(std::string_view text);

}  // namespace corral::agent

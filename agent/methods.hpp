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

// corral_run(*argv, input_base64=None): corral's own method, which the original does not have
// (its host side never calls it, so the two stay wire-compatible): stdin as bytes, and the
// command's exit status, stdout and stderr apart, as bytes. execute() keeps the original's
// text-only behaviour.
inline constexpr std::string_view kRunMethod = "corral_run";

struct RunRequest {
    std::vector<std::string> argv;  // never empty
    std::string input;              // stdin bytes; empty: stdin is empty
};

// The request, or the error reply for a malformed one.
std::variant<RunRequest, Reply> readRun(const Call& call);
// The call a host sends.
Call makeRunCall(const RunRequest& request);

// What ran: the exit status as a shell reports it (0..255, 128 + N for a signal N), and what
// the command wrote to each stream.
struct RunOutcome {
    int exitStatus = 0;
    std::string out;
    std::string err;
};

// The reply's result: [exit status, base64 stdout, base64 stderr].
Reply runReply(const RunOutcome& outcome);
// The outcome in a success reply's result; nullopt (and `problem`) for a malformed one.
std::optional<RunOutcome> readRunReply(const Value& result, std::string& problem);
// Whether a failure reply says the agent has no corral_run (an original negotiator-guest, or an
// older corral one): its error names the method, as "unknown method 'corral_run'" or Python's
// "object has no attribute 'corral_run'" do.
bool lacksRunMethod(const std::string& error);

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

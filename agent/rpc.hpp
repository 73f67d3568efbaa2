// Negotiator request/response model and dispatcher, no I/O. Requests are
// {"method": name, "args": [...], "kw": {...}}, replies {"success": true, "result": value} or
// {"success": false, "error": text}. JSON goes out ASCII-only (\uXXXX escapes) so that peers
// counting characters instead of bytes still agree on lengths.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace corral::agent {

// The values negotiator methods take and return: null, text, or a list of text.
using Value = std::variant<std::monostate, std::string, std::vector<std::string>>;

struct Call {
    std::string method;
    std::vector<std::string> args;                         // positional, strings only
    std::map<std::string, std::optional<std::string>> kw;  // e.g. input (string or null)
};

struct Reply {
    bool success = false;
    Value result;       // success only
    std::string error;  // failure only

    static Reply ok(Value value) { return Reply{true, std::move(value), {}}; }
    static Reply fail(std::string error) { return Reply{false, {}, std::move(error)}; }
};

// Turns arbitrary bytes (command output) into valid UTF-8, replacing bad sequences with U+FFFD.
std::string sanitizeUtf8(std::string_view bytes);

std::string encodeCall(const Call& call);
std::string encodeReply(const Reply& reply);

// Parses a request body; on malformed input returns the error reply to send back instead.
std::variant<Call, Reply> parseCall(std::string_view body);
// Parses a reply body; nullopt (and `problem` set) when it is not a well-formed reply.
std::optional<Reply> parseReply(std::string_view body, std::string& problem);

// Maps method names to handlers; turns each request body into exactly one reply body.
class Dispatcher {
  public:
    using Handler = std::function<Reply(const Call&)>;

    void add(std::string method, Handler handler);
    // Never throws: malformed requests, unknown methods and throwing handlers become error
    // replies.
    std::string handle(std::string_view body) const;
    Reply dispatch(const Call& call) const;

  private:
    std::map<std::string, Handler, std::less<>> handlers_;
};

}  // namespace corral::agent

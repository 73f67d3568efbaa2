// Negotiator request/response model and dispatcher, no I/O. Requests are
// {"method": name, "args": [...], "kw": {...}}, replies {"success": true, "result": value} or
// {"success": false, "error": text}. JSON goes out ASCII-only (\uXXXX escapes) so that peers
// counting characters instead of bytes still agree on lengths.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "agent/codec.hpp"

namespace corral::agent {

// The values negotiator methods take and return: null, text, or a list of text.
using Value = std::variant<std::monostate, std::string, std::vector<std::string>>;

// A keyword argument as received: null, text, or any other JSON value kept as its encoding
// (the original's methods ignore keywords they do not use, whatever their type).
struct KwArg {
    enum class Kind { Null, Text, Json };
    Kind kind = Kind::Null;
    std::string value;  // Text: the string; Json: the encoded value, e.g. "true" or "[1,2]"

    KwArg() = default;
    KwArg(std::optional<std::string> text)
        : kind(text ? Kind::Text : Kind::Null), value(std::move(text).value_or("")) {}
    KwArg(std::string text) : kind(Kind::Text), value(std::move(text)) {}
    KwArg(const char* text) : KwArg(std::string(text)) {}
    static KwArg json(std::string encoded) {
        KwArg arg;
        arg.kind = Kind::Json;
        arg.value = std::move(encoded);
        return arg;
    }
    bool operator==(const KwArg&) const = default;
};

struct Call {
    std::string method;
    std::vector<std::string> args;    // positional, strings only
    std::map<std::string, KwArg> kw;  // e.g. input (text or null), capture (true)
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
// encodeReply(), or an error reply saying so when that would not fit in `maxMessage` bytes: a
// frame the peer refuses as oversized would leave it with no answer at all.
std::string encodeReplyWithin(const Reply& reply, std::size_t maxMessage);
// The size of encodeReply(reply) (and of one encoded string, quotes included), without building
// it. Strings must be valid UTF-8, as sanitizeUtf8() makes them.
std::size_t encodedLength(const Reply& reply);
std::size_t encodedLength(std::string_view text);

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
    // replies; so does a reply longer than `maxReply` bytes.
    std::string handle(std::string_view body, std::size_t maxReply = kDefaultMaxMessage) const;
    Reply dispatch(const Call& call) const;

  private:
    std::map<std::string, Handler, std::less<>> handlers_;
};

}  // namespace corral::agent

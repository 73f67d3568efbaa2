#include "agent/methods.hpp"

#include <charconv>

#include "agent/base64.hpp"

namespace corral::agent {

namespace {

// Python 2's unicode.isspace(), which the original (a Python 2 program) strips with; Python 3
// differs only in U+180E.
bool isPythonSpace(char32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || c == 0x180E || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// Length of the UTF-8 sequence that starts with `lead` (1 for anything unexpected).
std::size_t sequenceLength(unsigned char lead) {
    if (lead >= 0xF0) return 4;
    if (lead >= 0xE0) return 3;
    if (lead >= 0xC0) return 2;
    return 1;
}

char32_t decodeAt(std::string_view s, std::size_t i, std::size_t len) {
    auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
    if (len == 1) return byte(0);
    char32_t c = byte(0) & (0x7F >> len);
    for (std::size_t k = 1; k < len; ++k) c = (c << 6) | (byte(k) & 0x3F);
    return c;
}

// Bytes of whitespace at the front of `s`.
std::size_t leadingSpace(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        auto len = sequenceLength(static_cast<unsigned char>(s[i]));
        if (i + len > s.size() || !isPythonSpace(decodeAt(s, i, len))) break;
        i += len;
    }
    return i;
}

// Bytes of whitespace at the end of `s`.
std::size_t trailingSpace(std::string_view s) {
    std::size_t end = s.size();
    while (end > 0) {
        std::size_t start = end - 1;
        while (start > 0 && end - start < 4 &&
               (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80)
            --start;
        auto len = end - start;
        if (sequenceLength(static_cast<unsigned char>(s[start])) != len ||
            !isPythonSpace(decodeAt(s, start, len)))
            break;
        end = start;
    }
    return s.size() - end;
}

}  // namespace

std::variant<ExecuteRequest, Reply> readExecute(const Call& call) {
    if (call.args.empty()) return Reply::fail("execute() needs a command name");
    ExecuteRequest request{call.args, std::nullopt};
    if (auto input = call.kw.find("input"); input != call.kw.end()) {
        if (input->second.kind == KwArg::Kind::Json)
            return Reply::fail("execute(): input must be text or null, not " +
                               input->second.value.substr(0, 40));
        if (input->second.kind == KwArg::Kind::Text) request.input = input->second.value;
    }
    return request;
}

std::variant<RunRequest, Reply> readRun(const Call& call) {
    if (call.args.empty()) return Reply::fail("corral_run() needs a command name");
    RunRequest request{call.args, {}};
    for (const auto& [key, value] : call.kw) {
        if (key != "input_base64")
            return Reply::fail("corral_run(): unknown keyword '" + key.substr(0, 40) + "'");
        if (value.kind == KwArg::Kind::Null) continue;
        auto bytes = value.kind == KwArg::Kind::Text ? decodeBase64(value.value) : std::nullopt;
        if (!bytes) return Reply::fail("corral_run(): input_base64 must be base64 text or null");
        request.input = std::move(*bytes);
    }
    return request;
}

Call makeRunCall(const RunRequest& request) {
    Call call{std::string(kRunMethod), request.argv, {}};
    if (!request.input.empty()) call.kw["input_base64"] = encodeBase64(request.input);
    return call;
}

Reply runReply(const RunOutcome& outcome) {
    return Reply::ok(std::vector<std::string>{
        std::to_string(outcome.exitStatus), encodeBase64(outcome.out), encodeBase64(outcome.err)});
}

std::optional<RunOutcome> readRunReply(const Value& result, std::string& problem) {
    const auto* list = std::get_if<std::vector<std::string>>(&result);
    if (!list || list->size() != 3) {
        problem = "corral_run answered something other than [status, stdout, stderr]";
        return std::nullopt;
    }
    RunOutcome outcome;
    const auto& status = (*list)[0];
    auto [end, ec] =
        std::from_chars(status.data(), status.data() + status.size(), outcome.exitStatus);
    auto out = decodeBase64((*list)[1]);
    auto err = decodeBase64((*list)[2]);
    if (ec != std::errc() || end != status.data() + status.size() || outcome.exitStatus < 0 ||
        outcome.exitStatus > 255 || !out || !err) {
        problem = "corral_run answered a malformed status or stream";
        return std::nullopt;
    }
    outcome.out = std::move(*out);
    outcome.err = std::move(*err);
    return outcome;
}

bool lacksRunMethod(const std::string& error) {
    return error.find(std::string(kRunMethod)) != std::string::npos &&
           (error.find("unknown method") != std::string::npos ||
            error.find("has no attribute") != std::string::npos);
}

std::optional<Reply> checkListCommands(const Call& call) {
    if (!call.args.empty() || !call.kw.empty())
        return Reply::fail("list_commands() takes no arguments");
    return std::nullopt;
}

std::string commandName(std::string_view argv0) {
    auto slash = argv0.rfind('/');
    return std::string(slash == std::string_view::npos ? argv0 : argv0.substr(slash + 1));
}

std::string_view rstripWhitespace(std::string_view text) {
    return text.substr(0, text.size() - trailingSpace(text));
}

std::string_view stripWhitespace(std::string_view text) {
    text.remove_prefix(leadingSpace(text));
    return rstripWhitespace(text);
}

std::string capturedOutput(std::string_view text) {
    auto stripped = stripWhitespace(text);
    return std::string(stripped.find('\n') == std::string_view::npos ? stripped : text);
}

}  // namespace corral::agent

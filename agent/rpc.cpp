#include "agent/rpc.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <exception>

namespace corral::agent {

namespace {

using AsciiWriter =
    rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>, rapidjson::ASCII<>>;

// The ASCII writer stops at invalid UTF-8, so every string is made valid first.
void writeString(AsciiWriter& w, std::string_view s) {
    auto valid = sanitizeUtf8(s);
    w.String(valid.data(), static_cast<rapidjson::SizeType>(valid.size()));
}

void writeValue(AsciiWriter& w, const Value& value) {
    if (auto* text = std::get_if<std::string>(&value)) {
        writeString(w, *text);
    } else if (auto* list = std::get_if<std::vector<std::string>>(&value)) {
        w.StartArray();
        for (const auto& item : *list) writeString(w, item);
        w.EndArray();
    } else {
        w.Null();
    }
}

// Parses a JSON object; invalid UTF-8 is rejected so that replies can echo strings safely.
bool parseObject(std::string_view body, rapidjson::Document& doc, std::string& problem) {
    // Iterative: a peer's "[[[[..." must not recurse down our stack.
    doc.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag>(body.data(),
                                                                                      body.size());
    if (doc.HasParseError()) {
        problem = "message is not valid JSON (offset " + std::to_string(doc.GetErrorOffset()) + ")";
        return false;
    }
    if (!doc.IsObject()) {
        problem = "message is not a JSON object";
        return false;
    }
    return true;
}

std::string text(const rapidjson::Value& v) {
    return {v.GetString(), v.GetStringLength()};
}

std::string encodeJson(const rapidjson::Value& v) {
    rapidjson::StringBuffer buffer;
    AsciiWriter w(buffer);
    v.Accept(w);
    return {buffer.GetString(), buffer.GetSize()};
}

}  // namespace

std::string sanitizeUtf8(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    auto byte = [&](std::size_t i) { return static_cast<unsigned char>(in[i]); };
    for (std::size_t i = 0; i < in.size();) {
        unsigned char c = byte(i);
        std::size_t len = c < 0x80           ? 1
                          : (c >> 5) == 0x6  ? 2
                          : (c >> 4) == 0xE  ? 3
                          : (c >> 3) == 0x1E ? 4
                                             : 0;
        bool valid = len > 0 && i + len <= in.size();
        for (std::size_t k = 1; valid && k < len; ++k) valid = (byte(i + k) & 0xC0) == 0x80;
        if (valid && len > 1) {
            // Reject overlong forms, surrogates and code points above U+10FFFF.
            unsigned cp = c & (0x7F >> len);
            for (std::size_t k = 1; k < len; ++k) cp = (cp << 6) | (byte(i + k) & 0x3F);
            static constexpr unsigned kMin[] = {0, 0, 0x80, 0x800, 0x10000};
            valid = cp >= kMin[len] && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
        }
        if (valid) {
            out.append(in.substr(i, len));
            i += len;
        } else {
            out += "\xEF\xBF\xBD";
            i += 1;
        }
    }
    return out;
}

std::string encodeCall(const Call& call) {
    rapidjson::StringBuffer buffer;
    AsciiWriter w(buffer);
    w.StartObject();
    w.Key("method");
    writeString(w, call.method);
    w.Key("args");
    w.StartArray();
    for (const auto& arg : call.args) writeString(w, arg);
    w.EndArray();
    w.Key("kw");
    w.StartObject();
    for (const auto& [key, value] : call.kw) {
        writeString(w, key);
        if (value.kind == KwArg::Kind::Text) {
            writeString(w, value.value);
        } else if (value.kind == KwArg::Kind::Json) {
            w.RawValue(value.value.data(), value.value.size(), rapidjson::kObjectType);
        } else {
            w.Null();
        }
    }
    w.EndObject();
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

std::string encodeReply(const Reply& reply) {
    rapidjson::StringBuffer buffer;
    AsciiWriter w(buffer);
    w.StartObject();
    w.Key("success");
    w.Bool(reply.success);
    if (reply.success) {
        w.Key("result");
        writeValue(w, reply.result);
    } else {
        w.Key("error");
        writeString(w, reply.error);
    }
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

std::size_t encodedLength(std::string_view text) {
    std::size_t n = 2;  // the quotes
    for (std::size_t i = 0; i < text.size();) {
        auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x80) {
            // Valid UTF-8 (invalid bytes become U+FFFD, also one \uXXXX): \uXXXX, or a
            // surrogate pair for a 4-byte sequence.
            std::size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
            n += len == 4 ? 12 : 6;
            i += len;
            continue;
        }
        bool shortEscape =
            c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t';
        n += shortEscape ? 2 : c < 0x20 ? 6 : 1;
        ++i;
    }
    return n;
}

std::size_t encodedLength(const Reply& reply) {
    if (!reply.success) return encodedLength(reply.error) + 26;  // {"success":false,"error":}
    std::size_t value = 4;                                       // null
    if (auto* text = std::get_if<std::string>(&reply.result)) value = encodedLength(*text);
    if (auto* list = std::get_if<std::vector<std::string>>(&reply.result)) {
        value = 2 + (list->empty() ? 0 : list->size() - 1);
        for (const auto& item : *list) value += encodedLength(item);
    }
    return value + 26;  // {"success":true,"result":}
}

std::string encodeReplyWithin(const Reply& reply, std::size_t maxMessage) {
    // Measured before it is built: escaping can make a reply six times its text (NUL bytes),
    // which must not be allocated just to be refused.
    auto size = encodedLength(reply);
    if (size <= maxMessage) return encodeReply(reply);
    return encodeReply(Reply::fail("the reply of " + std::to_string(size) +
                                   " bytes exceeds the message limit of " +
                                   std::to_string(maxMessage) + " bytes"));
}

std::variant<Call, Reply> parseCall(std::string_view body) {
    rapidjson::Document doc;
    std::string problem;
    if (!parseObject(body, doc, problem)) return Reply::fail("invalid request: " + problem);
    auto method = doc.FindMember("method");
    if (method == doc.MemberEnd()) return Reply::fail("invalid request: no 'method' key");
    if (!method->value.IsString()) return Reply::fail("invalid request: 'method' is not a string");
    Call call{text(method->value), {}, {}};
    if (auto args = doc.FindMember("args"); args != doc.MemberEnd() && !args->value.IsNull()) {
        if (!args->value.IsArray()) return Reply::fail("invalid request: 'args' is not a list");
        for (const auto& arg : args->value.GetArray()) {
            if (!arg.IsString()) {
                return Reply::fail("invalid request: " + call.method +
                                   "() takes string arguments only");
            }
            call.args.push_back(text(arg));
        }
    }
    if (auto kw = doc.FindMember("kw"); kw != doc.MemberEnd() && !kw->value.IsNull()) {
        if (!kw->value.IsObject()) return Reply::fail("invalid request: 'kw' is not an object");
        for (const auto& member : kw->value.GetObject()) {
            if (member.value.IsNull()) {
                call.kw[text(member.name)] = KwArg();
            } else if (member.value.IsString()) {
                call.kw[text(member.name)] = KwArg(text(member.value));
            } else {
                call.kw[text(member.name)] = KwArg::json(encodeJson(member.value));
            }
        }
    }
    return call;
}

std::optional<Reply> parseReply(std::string_view body, std::string& problem) {
    rapidjson::Document doc;
    if (!parseObject(body, doc, problem)) return std::nullopt;
    auto success = doc.FindMember("success");
    if (success == doc.MemberEnd() || !success->value.IsBool()) {
        problem = "reply has no boolean 'success'";
        return std::nullopt;
    }
    if (!success->value.GetBool()) {
        auto error = doc.FindMember("error");
        if (error == doc.MemberEnd() || !error->value.IsString()) {
            return Reply::fail("remote method failed without a message");
        }
        return Reply::fail(text(error->value));
    }
    auto result = doc.FindMember("result");
    if (result == doc.MemberEnd() || result->value.IsNull()) return Reply::ok({});
    if (result->value.IsString()) return Reply::ok(text(result->value));
    if (result->value.IsArray()) {
        std::vector<std::string> list;
        for (const auto& item : result->value.GetArray()) {
            if (!item.IsString()) {
                problem = "reply 'result' list holds a non-string";
                return std::nullopt;
            }
            list.push_back(text(item));
        }
        return Reply::ok(std::move(list));
    }
    problem = "reply 'result' is neither null, a string nor a list of strings";
    return std::nullopt;
}

void Dispatcher::add(std::string method, Handler handler) {
    handlers_[std::move(method)] = std::move(handler);
}

Reply Dispatcher::dispatch(const Call& call) const {
    auto it = handlers_.find(call.method);
    if (it == handlers_.end()) return Reply::fail("unknown method '" + call.method + "'");
    try {
        return it->second(call);
    } catch (const std::exception& e) {
        return Reply::fail(call.method + " failed: " + e.what());
    }
}

std::string Dispatcher::handle(std::string_view body, std::size_t maxReply) const {
    auto parsed = parseCall(body);
    if (auto* reply = std::get_if<Reply>(&parsed)) return encodeReply(*reply);
    return encodeReplyWithin(dispatch(std::get<Call>(parsed)), maxReply);
}

}  // namespace corral::agent

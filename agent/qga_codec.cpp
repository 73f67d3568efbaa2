#include "agent/qga_codec.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace corral::agent {

namespace {

constexpr char kDelimiter = '\xff';
// Iterative parsing: a hostile "[[[[..." cannot exhaust the stack while parsing; this bounds the
// depth of what is kept (the typed readers go at most three levels down).
constexpr unsigned kParseFlags = rapidjson::kParseIterativeFlag;
constexpr int kMaxDepth = 64;

int depthOf(const rapidjson::Value& value, int limit) {
    if (limit <= 0) return 1;
    int deepest = 0;
    if (value.IsArray()) {
        for (const auto& item : value.GetArray())
            deepest = std::max(deepest, depthOf(item, limit - 1));
    } else if (value.IsObject()) {
        for (const auto& member : value.GetObject())
            deepest = std::max(deepest, depthOf(member.value, limit - 1));
    } else {
        return 0;
    }
    return deepest + 1;
}

Result<rapidjson::Document> parse(std::string_view text) {
    rapidjson::Document doc;
    doc.Parse<kParseFlags>(text.data(), text.size());
    if (doc.HasParseError()) {
        return Error{Errc::Protocol, std::string("not JSON at offset ") +
                                         std::to_string(doc.GetErrorOffset()) + ": " +
                                         rapidjson::GetParseError_En(doc.GetParseError())};
    }
    if (depthOf(doc, kMaxDepth + 1) > kMaxDepth) {
        return Error{Errc::Protocol, "JSON nested deeper than " + std::to_string(kMaxDepth)};
    }
    return Result<rapidjson::Document>(boost::system::in_place_value, std::move(doc));
}

std::string text(const rapidjson::Value& value) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    value.Accept(writer);
    return {buffer.GetString(), buffer.GetSize()};
}

std::string member(const rapidjson::Value& object, const char* name) {
    auto it = object.FindMember(name);
    if (it == object.MemberEnd() || !it->value.IsString()) return {};
    return {it->value.GetString(), it->value.GetStringLength()};
}

}  // namespace

std::string qgaSyncFrame(std::uint64_t id) {
    return std::string(1, kDelimiter) + R"({"execute":"guest-sync-delimited","arguments":{"id":)" +
           std::to_string(id) + "}}\n";
}

std::string qgaCommandFrame(std::string_view command, std::string_view argumentsJson) {
    std::string frame = R"({"execute":")" + std::string(command) + "\"";
    if (!argumentsJson.empty()) frame += R"(,"arguments":)" + std::string(argumentsJson);
    return frame + "}\n";
}

void QgaLineReader::reset() {
    pending_.clear();
    seekingDelimiter_ = false;
    overflow_ = false;
    lineLength_ = 0;
}

void QgaLineReader::feed(std::string_view bytes) {
    for (char c : bytes) {
        if (seekingDelimiter_) {
            if (c == kDelimiter) seekingDelimiter_ = false;
            continue;
        }
        if (c == kDelimiter || overflow_) continue;
        if (lineLength_ >= kQgaMaxLine) {
            overflow_ = true;
            continue;
        }
        pending_.push_back(c);
        lineLength_ = c == '\n' ? 0 : lineLength_ + 1;
    }
}

std::optional<Result<std::string>> QgaLineReader::next() {
    for (;;) {
        auto end = pending_.find('\n');
        if (end == std::string::npos) {
            if (!overflow_) return std::nullopt;
            reset();
            return Result<std::string>(
                Error{Errc::Protocol,
                      "a reply line longer than " + std::to_string(kQgaMaxLine) + " bytes"});
        }
        std::string line = pending_.substr(0, end);
        pending_.erase(0, end + 1);
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        return Result<std::string>(boost::system::in_place_value, std::move(line));
    }
}

Result<std::string> parseQgaReply(std::string_view line) {
    auto doc = parse(line);
    if (!doc) return doc.error();
    if (!doc->IsObject()) return Error{Errc::Protocol, "a reply that is not a JSON object"};
    if (auto it = doc->FindMember("return"); it != doc->MemberEnd())
        return Result<std::string>(boost::system::in_place_value, text(it->value));
    if (auto it = doc->FindMember("error"); it != doc->MemberEnd() && it->value.IsObject()) {
        Error error{Errc::Remote, member(it->value, "desc")};
        error.remoteClass = member(it->value, "class");
        if (error.message.empty()) error.message = "the guest agent answered an error";
        return error;
    }
    return Error{Errc::Protocol, "a reply with neither \"return\" nor \"error\""};
}

Result<std::uint64_t> parseQgaSyncId(std::string_view returnJson) {
    auto doc = parse(returnJson);
    if (!doc) return doc.error();
    if (!doc->IsUint64()) return Error{Errc::Protocol, "guest-sync-delimited returned no id"};
    return doc->GetUint64();
}

Result<QgaOsInfo> parseQgaOsInfo(std::string_view returnJson) {
    auto doc = parse(returnJson);
    if (!doc) return doc.error();
    if (!doc->IsObject()) return Error{Errc::Protocol, "guest-get-osinfo returned no object"};
    return QgaOsInfo{member(*doc, "id"),          member(*doc, "name"),
                     member(*doc, "pretty-name"), member(*doc, "version"),
                     member(*doc, "version-id"),  member(*doc, "kernel-release")};
}

Result<std::vector<QgaInterface>> parseQgaInterfaces(std::string_view returnJson) {
    auto doc = parse(returnJson);
    if (!doc) return doc.error();
    if (!doc->IsArray())
        return Error{Errc::Protocol, "guest-network-get-interfaces returned no list"};
    std::vector<QgaInterface> interfaces;
    for (const auto& item : doc->GetArray()) {
        if (!item.IsObject()) continue;
        QgaInterface nic{member(item, "name"), {}};
        auto list = item.FindMember("ip-addresses");
        if (list != item.MemberEnd() && list->value.IsArray()) {
            for (const auto& address : list->value.GetArray()) {
                if (!address.IsObject()) continue;
                auto ip = member(address, "ip-address");
                auto prefix = address.FindMember("prefix");
                if (ip.empty()) continue;
                if (prefix != address.MemberEnd() && prefix->value.IsUint())
                    ip += "/" + std::to_string(prefix->value.GetUint());
                nic.addresses.push_back(std::move(ip));
            }
        }
        interfaces.push_back(std::move(nic));
    }
    return interfaces;
}

Result<std::string> parseQgaHostName(std::string_view returnJson) {
    auto doc = parse(returnJson);
    if (!doc) return doc.error();
    if (!doc->IsObject() || member(*doc, "host-name").empty())
        return Error{Errc::Protocol, "guest-get-host-name returned no host-name"};
    return Result<std::string>(boost::system::in_place_value, member(*doc, "host-name"));
}

Result<std::int64_t> parseQgaCount(std::string_view returnJson) {
    auto doc = parse(returnJson);
    if (!doc) return doc.error();
    if (!doc->IsInt64()) return Error{Errc::Protocol, "the guest agent returned no count"};
    return doc->GetInt64();
}

Result<std::string> parseQgaString(std::string_view returnJson) {
    auto doc = parse(returnJson);
    if (!doc) return doc.error();
    if (!doc->IsString()) return Error{Errc::Protocol, "the guest agent returned no string"};
    return std::string(doc->GetString(), doc->GetStringLength());
}

}  // namespace corral::agent

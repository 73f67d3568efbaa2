#include "monitor/qmp_message.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <utility>

namespace corral::monitor {

namespace {

Error broken(std::string detail) {
    return Error{Errc::Protocol, std::move(detail)};
}

int intMember(const rapidjson::Value& object, const char* name) {
    auto it = object.FindMember(name);
    return it != object.MemberEnd() && it->value.IsInt() ? it->value.GetInt() : 0;
}

std::int64_t int64Member(const rapidjson::Value& object, const char* name) {
    auto it = object.FindMember(name);
    return it != object.MemberEnd() && it->value.IsInt64() ? it->value.GetInt64() : 0;
}

std::string stringMember(const rapidjson::Value& object, const char* name, std::string fallback) {
    auto it = object.FindMember(name);
    return it != object.MemberEnd() && it->value.IsString() ? it->value.GetString() : fallback;
}

// Makes `member` (a value inside `doc`) the root of `doc` without copying: the document's pool
// allocator never frees, so the member's storage stays valid for the document's lifetime.
void reroot(Json& doc, rapidjson::Value& member) {
    rapidjson::Value detached;
    detached.Swap(member);
    static_cast<rapidjson::Value&>(doc).Swap(detached);
}

QmpGreeting parseGreeting(const rapidjson::Value& qmp) {
    QmpGreeting greeting;
    if (!qmp.IsObject()) return greeting;
    auto version = qmp.FindMember("version");
    if (version != qmp.MemberEnd() && version->value.IsObject()) {
        auto qemu = version->value.FindMember("qemu");
        if (qemu != version->value.MemberEnd() && qemu->value.IsObject()) {
            greeting.major = intMember(qemu->value, "major");
            greeting.minor = intMember(qemu->value, "minor");
            greeting.micro = intMember(qemu->value, "micro");
        }
    }
    auto caps = qmp.FindMember("capabilities");
    if (caps != qmp.MemberEnd() && caps->value.IsArray()) {
        for (const auto& cap : caps->value.GetArray()) {
            if (cap.IsString()) greeting.capabilities.emplace_back(cap.GetString());
        }
    }
    return greeting;
}

Result<QmpMessage> parseEvent(Json& message, const rapidjson::Value& name) {
    if (!name.IsString() || name.GetStringLength() == 0) {
        return broken("event name is not a non-empty string");
    }
    QmpEvent event;
    event.name = name.GetString();
    if (auto ts = message.FindMember("timestamp");
        ts != message.MemberEnd() && ts->value.IsObject()) {
        event.seconds = int64Member(ts->value, "seconds");
        event.micros = int64Member(ts->value, "microseconds");
    }
    if (auto data = message.FindMember("data"); data != message.MemberEnd()) {
        reroot(message, data->value);
        event.data = std::move(message);
    }
    return QmpMessage(std::move(event));
}

Result<QmpMessage> parseAnswer(Json& message) {
    auto id = message.FindMember("id");
    if (id == message.MemberEnd()) {
        // QEMU omits the id only when it could not parse our command: we lost track of a call.
        return broken("reply without id: " + toJsonString(message));
    }
    QmpAnswer answer;
    if (id->value.IsUint64()) answer.id = id->value.GetUint64();
    answer.idText = toJsonString(id->value);
    if (auto ret = message.FindMember("return"); ret != message.MemberEnd()) {
        reroot(message, ret->value);
        answer.value = std::move(message);
        return QmpMessage(std::move(answer));
    }
    answer.ok = false;
    const auto& error = message["error"];
    answer.errorClass = "GenericError";
    answer.description = "(no description)";
    if (error.IsObject()) {
        answer.errorClass = stringMember(error, "class", answer.errorClass);
        answer.description = stringMember(error, "desc", answer.description);
    }
    return QmpMessage(std::move(answer));
}

}  // namespace

Result<QmpMessage> parseQmpLine(std::string_view line) {
    auto parsed = parseJson(line);
    if (!parsed) return broken("malformed line: " + parsed.error().message);
    Json& message = *parsed;
    if (!message.IsObject()) return broken("line is not a JSON object");
    if (auto qmp = message.FindMember("QMP"); qmp != message.MemberEnd()) {
        return QmpMessage(parseGreeting(qmp->value));
    }
    if (auto event = message.FindMember("event"); event != message.MemberEnd()) {
        return parseEvent(message, event->value);
    }
    if (message.HasMember("return") || message.HasMember("error")) return parseAnswer(message);
    return broken("line is neither greeting, reply nor event");
}

Result<std::string> executeLine(std::string_view command, const rapidjson::Value& args,
                                std::uint64_t id) {
    if (!args.IsNull() && !args.IsObject()) {
        return makeError(Errc::Protocol, command, "arguments must be a JSON object");
    }
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    writer.StartObject();
    writer.Key("execute");
    writer.String(command.data(), static_cast<rapidjson::SizeType>(command.size()));
    if (args.IsObject()) {
        writer.Key("arguments");
        args.Accept(writer);
    }
    writer.Key("id");
    writer.Uint64(id);
    writer.EndObject();
    std::string line(buffer.GetString(), buffer.GetSize());
    line.append("\r\n");
    return line;
}

}  // namespace corral::monitor

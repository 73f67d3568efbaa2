#include "monitor/qmp_session.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdio>
#include <utility>

namespace corral::monitor {

namespace {

void logToStderr(std::string_view note) {
    std::fprintf(stderr, "qmp: %.*s\n", static_cast<int>(note.size()), note.data());
}

int intMember(const rapidjson::Value& object, const char* name) {
    auto it = object.FindMember(name);
    return it != object.MemberEnd() && it->value.IsInt() ? it->value.GetInt() : 0;
}

std::int64_t int64Member(const rapidjson::Value& object, const char* name) {
    auto it = object.FindMember(name);
    return it != object.MemberEnd() && it->value.IsInt64() ? it->value.GetInt64() : 0;
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

}  // namespace

QmpSession::QmpSession(LogSink log) : log_(log ? std::move(log) : LogSink(logToStderr)) {}

Error QmpSession::protocolError(std::string detail) {
    if (state_ != State::Failed) {
        state_ = State::Failed;
        failure_ = detail;
    }
    return makeError(Errc::Protocol, "QMP", detail);
}

Result<std::vector<QmpRecord>> QmpSession::feed(std::string_view bytes) {
    if (state_ == State::Failed) return makeError(Errc::Protocol, "QMP", failure_);
    std::vector<QmpRecord> out;
    while (!bytes.empty()) {
        auto newline = bytes.find('\n');
        std::string_view piece = bytes.substr(0, newline);
        // Checked before appending: an endless line never grows the buffer past the cap.
        if (buffer_.size() + piece.size() > kMaxLineBytes) {
            buffer_.clear();
            buffer_.shrink_to_fit();
            return protocolError("line longer than " + std::to_string(kMaxLineBytes) + " bytes");
        }
        if (newline == std::string_view::npos) {
            buffer_.append(piece);
            break;
        }
        bytes.remove_prefix(newline + 1);
        std::string_view line = piece;
        if (!buffer_.empty()) {
            buffer_.append(piece);
            line = buffer_;
        }
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        auto handled = line.empty() ? Result<void>() : handleLine(line, out);
        buffer_.clear();
        if (!handled) return handled.error();
    }
    return out;
}

Result<void> QmpSession::handleLine(std::string_view line, std::vector<QmpRecord>& out) {
    auto parsed = parseJson(line);
    if (!parsed) return protocolError("malformed line: " + parsed.error().message);
    Json& message = *parsed;
    if (!message.IsObject()) return protocolError("line is not a JSON object");

    if (auto qmp = message.FindMember("QMP"); qmp != message.MemberEnd()) {
        if (state_ != State::AwaitingGreeting) return protocolError("unexpected second greeting");
        greeting_ = parseGreeting(qmp->value);
        state_ = State::Negotiating;
        out.emplace_back(greeting_);
        return {};
    }
    if (auto event = message.FindMember("event"); event != message.MemberEnd()) {
        if (!event->value.IsString() || event->value.GetStringLength() == 0)
            return protocolError("event name is not a non-empty string");
        QmpEvent record;
        record.name = event->value.GetString();
        if (auto ts = message.FindMember("timestamp");
            ts != message.MemberEnd() && ts->value.IsObject()) {
            record.seconds = int64Member(ts->value, "seconds");
            record.micros = int64Member(ts->value, "microseconds");
        }
        if (auto data = message.FindMember("data"); data != message.MemberEnd()) {
            reroot(message, data->value);
            record.data = std::move(message);
        }
        out.emplace_back(std::move(record));
        return {};
    }
    if (message.HasMember("return") || message.HasMember("error")) {
        return handleReply(message, out);
    }
    return protocolError("line is neither greeting, reply nor event");
}

Result<void> QmpSession::handleReply(Json& message, std::vector<QmpRecord>& out) {
    auto idMember = message.FindMember("id");
    if (idMember == message.MemberEnd()) {
        // QEMU omits the id only when it could not parse our command: we lost track of a call.
        return protocolError("reply without id: " + toJsonString(message));
    }
    if (!idMember->value.IsUint64() || !pending_.contains(idMember->value.GetUint64())) {
        if (idMember->value.IsUint64() && abandoned_.erase(idMember->value.GetUint64()) > 0) {
            return {};
        }
        ++dropped_;
        log_("dropped reply with unknown id " + toJsonString(idMember->value));
        return {};
    }
    auto node = pending_.extract(idMember->value.GetUint64());
    QmpReply reply{node.key(), std::move(node.mapped()), Json()};

    if (auto ret = message.FindMember("return"); ret != message.MemberEnd()) {
        reroot(message, ret->value);
        reply.result = std::move(message);
    } else {
        const auto& error = message["error"];
        std::string kind = "GenericError";
        std::string desc = "(no description)";
        if (error.IsObject()) {
            auto cls = error.FindMember("class");
            if (cls != error.MemberEnd() && cls->value.IsString()) kind = cls->value.GetString();
            auto d = error.FindMember("desc");
            if (d != error.MemberEnd() && d->value.IsString()) desc = d->value.GetString();
        }
        reply.result = makeRemoteError(kind, reply.command, desc);
    }
    if (reply.id == capabilitiesId_) {
        if (reply.result) {
            state_ = State::Ready;
        } else {
            state_ = State::Failed;
            failure_ = reply.result.error().message;
        }
    }
    out.emplace_back(std::move(reply));
    return {};
}

Result<QmpOutgoing> QmpSession::negotiate() {
    if (state_ != State::Negotiating || capabilitiesId_ != 0) {
        return makeError(Errc::Protocol, "qmp_capabilities",
                         "only valid once, after the greeting and before any command");
    }
    auto outgoing = buildLine("qmp_capabilities", rapidjson::Value());
    if (outgoing) capabilitiesId_ = outgoing->id;
    return outgoing;
}

Result<QmpOutgoing> QmpSession::execute(std::string_view command, const rapidjson::Value& args) {
    if (state_ != State::Ready) {
        return makeError(Errc::Protocol, command,
                         state_ == State::Failed ? "session failed: " + failure_
                                                 : std::string("capabilities not negotiated yet"));
    }
    return buildLine(command, args);
}

Result<QmpOutgoing> QmpSession::buildLine(std::string_view command, const rapidjson::Value& args) {
    if (!args.IsNull() && !args.IsObject()) {
        return makeError(Errc::Protocol, command, "arguments must be a JSON object");
    }
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    std::uint64_t id = nextId_++;
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
    QmpOutgoing outgoing{id, std::string(buffer.GetString(), buffer.GetSize())};
    outgoing.line.append("\r\n");
    pending_.emplace(id, std::string(command));
    return outgoing;
}

void QmpSession::abandon(std::uint64_t id) {
    if (pending_.erase(id) > 0) abandoned_.insert(id);
}

std::vector<std::uint64_t> QmpSession::fail() {
    if (state_ != State::Failed) {
        state_ = State::Failed;
        if (failure_.empty()) failure_ = "transport closed";
    }
    std::vector<std::uint64_t> ids;
    ids.reserve(pending_.size());
    for (const auto& [id, command] : pending_) ids.push_back(id);
    pending_.clear();
    abandoned_.clear();
    return ids;
}

}  // namespace corral::monitor

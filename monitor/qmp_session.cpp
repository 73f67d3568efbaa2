#include "monitor/qmp_session.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace corral::monitor {

namespace {

void logToStderr(std::string_view note) {
    std::fprintf(stderr, "qmp: %.*s\n", static_cast<int>(note.size()), note.data());
}

void sortById(std::vector<QmpReply>& replies) {
    std::sort(replies.begin(), replies.end(),
              [](const QmpReply& a, const QmpReply& b) { return a.id < b.id; });
}

}  // namespace

QmpSession::QmpSession(LogSink log) : log_(log ? std::move(log) : LogSink(logToStderr)) {}

void QmpSession::limitHandshake(QmpTime now, std::chrono::milliseconds timeout) {
    handshakeTimeout_ = clampWait(timeout);
    handshakeDeadline_ = now + handshakeTimeout_;
    if (auto caps = calls_.find(capabilitiesId_); caps != calls_.end()) {
        caps->second.deadline = *handshakeDeadline_;
        caps->second.timeout = handshakeTimeout_;
    }
}

void QmpSession::failWith(Error why) {
    if (state_ == State::Failed) return;
    state_ = State::Failed;
    failure_ = std::move(why);
}

void QmpSession::protocolError(std::string detail) {
    failWith(makeError(Errc::Protocol, "QMP", detail));
}

std::vector<QmpRecord> QmpSession::feed(std::string_view bytes) {
    std::vector<QmpRecord> out;
    while (!bytes.empty() && state_ != State::Failed) {
        auto newline = bytes.find('\n');
        std::string_view piece = bytes.substr(0, newline);
        // Checked before appending: an endless line never grows the buffer past the cap.
        if (buffer_.size() + piece.size() > kMaxLineBytes) {
            buffer_.clear();
            buffer_.shrink_to_fit();
            protocolError("line longer than " + std::to_string(kMaxLineBytes) + " bytes");
            break;
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
        if (!line.empty()) handleLine(line, out);
        buffer_.clear();
    }
    return out;
}

void QmpSession::handleLine(std::string_view line, std::vector<QmpRecord>& out) {
    auto parsed = parseQmpLine(line);
    if (!parsed) return protocolError(parsed.error().message);
    if (auto* greeting = std::get_if<QmpGreeting>(&*parsed)) {
        if (state_ != State::AwaitingGreeting) return protocolError("unexpected second greeting");
        greeting_ = std::move(*greeting);
        state_ = State::Negotiating;
        auto caps = enqueue("qmp_capabilities", rapidjson::Value(),
                            handshakeDeadline_.value_or(QmpTime::max()), handshakeTimeout_);
        if (!caps) return protocolError(caps.error().message);
        capabilitiesId_ = *caps;
        out.emplace_back(greeting_);
    } else if (auto* event = std::get_if<QmpEvent>(&*parsed)) {
        out.emplace_back(std::move(*event));
    } else {
        handleAnswer(std::get<QmpAnswer>(*parsed), out);
    }
}

void QmpSession::handleAnswer(QmpAnswer& answer, std::vector<QmpRecord>& out) {
    auto call = answer.id ? calls_.find(*answer.id) : calls_.end();
    if (call == calls_.end()) {
        if (answer.id && abandoned_.erase(*answer.id) > 0) return;
        ++dropped_;
        log_("dropped reply with unknown id " + answer.idText);
        return;
    }
    if (!call->second.onWire) {
        // QEMU cannot answer a line it has not read: the peer is guessing ids.
        ++dropped_;
        log_("dropped reply with id " + answer.idText + ": its command was not sent yet");
        return;
    }
    QmpReply reply{call->first, std::move(call->second.command), Json()};
    calls_.erase(call);
    if (answer.ok) {
        reply.result = std::move(answer.value);
    } else {
        reply.result = makeRemoteError(answer.errorClass, reply.command, answer.description);
    }
    if (!settleHandshake(reply)) out.emplace_back(std::move(reply));
}

bool QmpSession::settleHandshake(const QmpReply& reply) {
    if (capabilitiesId_ == 0 || reply.id != capabilitiesId_) return false;
    if (!reply.result) {
        failWith(reply.result.error());
    } else if (state_ == State::Negotiating) {
        state_ = State::Ready;
    }
    return true;
}

Result<std::uint64_t> QmpSession::execute(std::string_view command, const rapidjson::Value& args,
                                          QmpTime now, std::chrono::milliseconds timeout) {
    if (state_ != State::Ready) {
        return makeError(Errc::Protocol, command,
                         state_ == State::Failed ? "session failed: " + failure_.message
                                                 : std::string("capabilities not negotiated yet"));
    }
    auto limit = clampWait(timeout);
    return enqueue(command, args, now + limit, limit);
}

Result<std::uint64_t> QmpSession::enqueue(std::string_view command, const rapidjson::Value& args,
                                          QmpTime deadline, std::chrono::milliseconds timeout) {
    auto line = executeLine(command, args, nextId_);
    if (!line) return line.error();
    const std::uint64_t id = nextId_++;
    calls_.emplace(id, Call{std::string(command), deadline, timeout});
    queue_.push_back(Line{id, std::move(*line)});
    return id;
}

std::optional<QmpWrite> QmpSession::nextWrite() {
    while (!queue_.empty()) {
        const Line& head = queue_.front();
        if (head.written == 0 && !calls_.contains(head.id)) {
            queue_.pop_front();  // ended before a byte left: QEMU never sees it
            continue;
        }
        return QmpWrite{head.id, std::string_view(head.bytes).substr(head.written),
                        head.written == 0};
    }
    return std::nullopt;
}

void QmpSession::commitWrite(std::size_t count) {
    if (queue_.empty() || count == 0) return;
    Line& head = queue_.front();
    if (auto call = calls_.find(head.id); call != calls_.end()) call->second.onWire = true;
    head.written = std::min(head.bytes.size(), head.written + count);
    if (head.written == head.bytes.size()) queue_.pop_front();
}

std::vector<QmpReply> QmpSession::expire(QmpTime now) {
    std::vector<QmpReply> ended;
    if (state_ == State::AwaitingGreeting && handshakeDeadline_ && *handshakeDeadline_ <= now) {
        failWith(
            makeError(Errc::Timeout, "greeting", "none within " + describeMs(handshakeTimeout_)));
        return ended;
    }
    for (auto it = calls_.begin(); it != calls_.end();) {
        Call& call = it->second;
        if (call.deadline > now) {
            ++it;
            continue;
        }
        if (call.onWire) abandoned_.insert(it->first);
        auto timedOut =
            makeError(Errc::Timeout, call.command, "no reply within " + describeMs(call.timeout));
        QmpReply reply{it->first, std::move(call.command), std::move(timedOut)};
        it = calls_.erase(it);
        if (!settleHandshake(reply)) ended.push_back(std::move(reply));
    }
    sortById(ended);
    return ended;
}

std::optional<QmpTime> QmpSession::nextDeadline() const {
    std::optional<QmpTime> next;
    auto consider = [&next](QmpTime when) {
        if (when != QmpTime::max() && (!next || when < *next)) next = when;
    };
    if (state_ == State::AwaitingGreeting && handshakeDeadline_) consider(*handshakeDeadline_);
    for (const auto& [id, call] : calls_) consider(call.deadline);
    return next;
}

std::vector<QmpReply> QmpSession::fail(const Error& why) {
    failWith(why);
    std::vector<QmpReply> ended;
    ended.reserve(calls_.size());
    for (auto& [id, call] : calls_) {
        if (id == capabilitiesId_) continue;
        Error lost{Errc::Disconnected, call.command + ": " + why.message};
        ended.push_back(QmpReply{id, std::move(call.command), std::move(lost)});
    }
    sortById(ended);
    calls_.clear();
    queue_.clear();
    abandoned_.clear();
    buffer_.clear();
    return ended;
}

}  // namespace corral::monitor

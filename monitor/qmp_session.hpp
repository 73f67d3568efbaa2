// The QMP protocol without I/O: bytes in, greeting/reply/event records out; ids, pending calls
// and the negotiation order (greeting -> qmp_capabilities -> commands).
#pragma once

#include "monitor/error.hpp"
#include "monitor/json.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

namespace corral::monitor {

// Longest line we accept from QEMU; a longer one is a protocol error, never an allocation.
inline constexpr std::size_t kMaxLineBytes = 10 * 1024 * 1024;

struct QmpEvent {
    std::string name;  // "STOP", "DEVICE_DELETED", ...
    Json data;         // the event's "data" object, or null when it has none
    std::int64_t seconds = 0;
    std::int64_t micros = 0;
};

struct QmpGreeting {
    int major = 0;
    int minor = 0;
    int micro = 0;
    std::vector<std::string> capabilities;  // offered by the server ("oob", ...)
};

// The answer to one execute line: the "return" value or the QMP error mapped to an Error.
struct QmpReply {
    std::uint64_t id = 0;
    std::string command;
    Result<Json> result;
};

using QmpRecord = std::variant<QmpGreeting, QmpReply, QmpEvent>;

// One line to write, and the id its reply will carry.
struct QmpOutgoing {
    std::uint64_t id = 0;
    std::string line;  // ends with "\r\n"
};

class QmpSession {
  public:
    enum class State { AwaitingGreeting, Negotiating, Ready, Failed };
    using LogSink = std::function<void(std::string_view)>;

    // `log` receives notes about dropped input (unknown ids); by default they go to stderr.
    explicit QmpSession(LogSink log = {});

    // Consumes bytes; returns the complete records they finish, in order. A protocol error
    // (oversize or malformed line, reply without id, ...) fails the session for good.
    Result<std::vector<QmpRecord>> feed(std::string_view bytes);

    // The qmp_capabilities line; valid once the greeting has arrived.
    Result<QmpOutgoing> negotiate();

    // An execute line for `command` (`args` null = no arguments); valid once negotiated.
    Result<QmpOutgoing> execute(std::string_view command, const rapidjson::Value& args);

    // Forgets a pending call (timed out or abandoned); its late reply is dropped quietly.
    void abandon(std::uint64_t id);

    // Fails the session (the transport died) and returns the ids that were still pending.
    std::vector<std::uint64_t> fail();

    State state() const { return state_; }
    std::size_t pendingCount() const { return pending_.size(); }
    std::uint64_t droppedReplies() const { return dropped_; }
    const QmpGreeting& greeting() const { return greeting_; }
    // Why the session failed (empty while it has not).
    const std::string& failure() const { return failure_; }

  private:
    Result<QmpOutgoing> buildLine(std::string_view command, const rapidjson::Value& args);
    Result<void> handleLine(std::string_view line, std::vector<QmpRecord>& out);
    Result<void> handleReply(Json& message, std::vector<QmpRecord>& out);
    Error protocolError(std::string detail);

    LogSink log_;
    State state_ = State::AwaitingGreeting;
    std::string buffer_;
    std::uint64_t nextId_ = 1;
    std::uint64_t capabilitiesId_ = 0;
    std::uint64_t dropped_ = 0;
    std::unordered_map<std::uint64_t, std::string> pending_;  // id -> command name
    std::unordered_set<std::uint64_t> abandoned_;
    QmpGreeting greeting_;
    std::string failure_;
};

}  // namespace corral::monitor

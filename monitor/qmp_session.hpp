// The QMP protocol without I/O: bytes from QEMU in, records out; calls in, bytes to send out.
// It owns everything a call goes through: its id, its line in the write queue, its deadline, and
// how it ends (answered, timed out, or failed with the connection). Time is an argument, so
// tests drive it with a fake clock; the transport only carries out what the session decides.
//
// A call's line is Queued (no byte sent), then on the wire (some or all bytes sent). A call
// that ends while Queued is dropped from the queue and never reaches QEMU. One that ends on the
// wire keeps its line until the last byte is out (QEMU would read the next command glued to half
// of this one), and its late reply is dropped quietly.
#pragma once

#include "monitor/error.hpp"
#include "monitor/json.hpp"
#include "monitor/qmp_message.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

namespace corral::monitor {

using QmpClock = std::chrono::steady_clock;
using QmpTime = QmpClock::time_point;

// Longest line we accept from QEMU; a longer one is a protocol error, never an allocation.
inline constexpr std::size_t kMaxLineBytes = 10 * 1024 * 1024;
// Longest wait a call may have: keeps now + timeout far from overflowing the clock.
inline constexpr std::chrono::milliseconds kMaxWait = std::chrono::hours(24 * 365);

// A wait brought into [0, kMaxWait].
inline std::chrono::milliseconds clampWait(std::chrono::milliseconds wait) {
    return std::clamp(wait, std::chrono::milliseconds(0), kMaxWait);
}

// "250 ms", as the sentences of timeouts say it.
inline std::string describeMs(std::chrono::milliseconds ms) {
    return std::to_string(ms.count()) + " ms";
}

// How one call ended: its "return" value, the QMP error mapped to an Error (kind Remote), or
// kind Timeout / Disconnected when the session ended it.
struct QmpReply {
    std::uint64_t id = 0;
    std::string command;
    Result<Json> result;
};

using QmpRecord = std::variant<QmpGreeting, QmpReply, QmpEvent>;

// What the transport sends next: the unsent rest of the oldest line in the queue.
struct QmpWrite {
    std::uint64_t id = 0;    // the call the line belongs to
    std::string_view bytes;  // valid until the next call on the session
    bool first = false;      // no byte of this line is out yet (fds must ride on this one)
};

class QmpSession {
  public:
    enum class State { AwaitingGreeting, Negotiating, Ready, Failed };
    using LogSink = std::function<void(std::string_view)>;

    // `log` receives notes about dropped input (unknown ids); by default they go to stderr.
    explicit QmpSession(LogSink log = {});

    // Bounds the handshake: the greeting and the qmp_capabilities reply must both arrive
    // before now + timeout, or expire() fails the session. Without it the handshake may last.
    void limitHandshake(QmpTime now, std::chrono::milliseconds timeout);

    // Consumes bytes from QEMU; returns the records they complete, in order (the greeting,
    // events, replies to our calls). The greeting queues qmp_capabilities by itself; its reply
    // makes the session Ready (or Failed) and is no record. A protocol error (oversize or
    // malformed line, reply without id, ...) fails the session for good: the records completed
    // before it are still returned (each call ends exactly once), state() is Failed and failure()
    // says why; the transport then closes and calls fail(). A failed session (a refused
    // qmp_capabilities too) reads nothing more.
    std::vector<QmpRecord> feed(std::string_view bytes);

    // Queues an execute line for `command` (`args` null = no arguments), to be answered before
    // now + timeout; returns the call's id. Valid once Ready.
    Result<std::uint64_t> execute(std::string_view command, const rapidjson::Value& args,
                                  QmpTime now, std::chrono::milliseconds timeout);

    // What to send next, if anything. Lines of calls that ended before their first byte left are
    // skipped here: they never reach the wire.
    std::optional<QmpWrite> nextWrite();
    // The transport sent the first `count` bytes of what nextWrite() returned.
    void commitWrite(std::size_t count);

    // Ends every call whose deadline is at or before `now` with kind Timeout, and fails the
    // session if the handshake is overdue (then state() is Failed and failure() says why).
    std::vector<QmpReply> expire(QmpTime now);
    // The earliest deadline still ahead (calls and handshake): when to call expire() next.
    std::optional<QmpTime> nextDeadline() const;

    // The transport is gone (or its owner closed it): fails the session and ends every pending
    // call with kind Disconnected, naming the command and `why`. The write queue is emptied.
    std::vector<QmpReply> fail(const Error& why);

    State state() const { return state_; }
    // Calls not yet ended (neither answered, nor expired, nor failed).
    std::size_t pendingCount() const { return calls_.size(); }
    std::uint64_t droppedReplies() const { return dropped_; }
    const QmpGreeting& greeting() const { return greeting_; }
    // Why the session failed (kind and sentence); meaningful once state() is Failed.
    const Error& failure() const { return failure_; }

  private:
    struct Call {
        std::string command;
        QmpTime deadline;
        std::chrono::milliseconds timeout;
        bool onWire = false;  // a byte of its line has been sent
    };
    struct Line {
        std::uint64_t id = 0;
        std::string bytes;
        std::size_t written = 0;
    };

    Result<std::uint64_t> enqueue(std::string_view command, const rapidjson::Value& args,
                                  QmpTime deadline, std::chrono::milliseconds timeout);
    void handleLine(std::string_view line, std::vector<QmpRecord>& out);
    void handleAnswer(QmpAnswer& answer, std::vector<QmpRecord>& out);
    // Settles the handshake when `reply` is our qmp_capabilities call; false for other calls.
    bool settleHandshake(const QmpReply& reply);
    void failWith(Error why);
    void protocolError(std::string detail);

    LogSink log_;
    State state_ = State::AwaitingGreeting;
    std::string buffer_;
    std::uint64_t nextId_ = 1;
    std::uint64_t capabilitiesId_ = 0;
    std::uint64_t dropped_ = 0;
    std::optional<QmpTime> handshakeDeadline_;
    std::chrono::milliseconds handshakeTimeout_{0};
    std::unordered_map<std::uint64_t, Call> calls_;
    std::deque<Line> queue_;
    // Calls that ended on the wire: QEMU may still answer them, quietly dropped when it does.
    std::unordered_set<std::uint64_t> abandoned_;
    QmpGreeting greeting_;
    Error failure_;
};

}  // namespace corral::monitor

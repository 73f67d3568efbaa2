// Asynchronous QMP client over a UNIX socket (Boost.Asio, C++20 coroutines). Single-threaded,
// nothing ever blocks the executor. It carries out what its QmpSession decides: writes the lines
// the session queues, arms one timer at the session's next deadline, and wakes each caller when
// the session ends its call. The reader keeps the client alive while the socket is open: owners
// call close() when done.
#pragma once

#include <sys/types.h>

#include "monitor/error.hpp"
#include "monitor/json.hpp"
#include "monitor/qmp_session.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace corral::monitor {

using namespace std::chrono_literals;
template <class T>
using awaitable = boost::asio::awaitable<T>;

inline constexpr std::chrono::milliseconds kDefaultCommandTimeout = 30s;
// How long the greeting and the capabilities negotiation may take by default.
inline constexpr std::chrono::milliseconds kDefaultNegotiateTimeout = 10s;

class QmpClient;

// Keeps an event subscription alive; destroying (or reset()) unsubscribes.
class Subscription {
  public:
    Subscription() = default;
    Subscription(std::weak_ptr<QmpClient> client, std::uint64_t id);
    Subscription(Subscription&& other) noexcept;
    Subscription& operator=(Subscription&& other) noexcept;
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;
    ~Subscription();

    void reset();

  private:
    std::weak_ptr<QmpClient> client_;
    std::uint64_t id_ = 0;
};

// An armed wait for one event. Arm it BEFORE sending the command that causes the event (e.g.
// device_del), so an event arriving together with the command's reply is not missed.
class EventWatch {
  public:
    struct State;
    EventWatch() = default;
    explicit EventWatch(std::shared_ptr<State> state);

    // Completes with the first matching event seen since the watch was armed, or kind "Timeout",
    // or kind "Disconnected". Other commands keep flowing while this waits.
    awaitable<Result<QmpEvent>> wait(std::chrono::milliseconds timeout);

  private:
    std::shared_ptr<State> state_;
};

class QmpClient : public std::enable_shared_from_this<QmpClient> {
  public:
    using EventPredicate = std::function<bool(const QmpEvent&)>;
    using DisconnectHandler = std::function<void(const Error&)>;

    // Clients are shared_ptr-owned so in-flight coroutines keep them alive.
    static std::shared_ptr<QmpClient> create(boost::asio::any_io_executor executor);

    // Connects to `socketPath`, retrying until it accepts or `window` has passed (QEMU creates
    // the socket a moment after it starts), then negotiates and runs query-commands, each
    // within `negotiate` (a QEMU that serves another client accepts but does not greet).
    // Errors: kind "Connect" (never accepted), "Protocol" (bad greeting), "Timeout".
    awaitable<Result<void>> connect(std::string socketPath, std::chrono::milliseconds window,
                                    std::chrono::milliseconds negotiate = kDefaultNegotiateTimeout);

    // Runs one command and returns its "return" value. `args` null = no arguments. `fds` go out
    // with the command in one sendmsg (SCM_RIGHTS); they are duplicated, the caller keeps its own.
    awaitable<Result<Json>> execute(std::string command, Json args = {},
                                    std::chrono::milliseconds timeout = kDefaultCommandTimeout,
                                    std::vector<int> fds = {});

    // Passes `fd` to QEMU under `name` (getfd), for options like netdev fd=NAME.
    awaitable<Result<void>> getfd(std::string name, int fd,
                                  std::chrono::milliseconds timeout = kDefaultCommandTimeout);

    // Removes a whole fdset.
    awaitable<Result<void>> removeFd(int fdset,
                                     std::chrono::milliseconds timeout = kDefaultCommandTimeout);

    // HMP passthrough (human-monitor-command); returns the HMP output text.
    awaitable<Result<std::string>> humanMonitorCommand(
        std::string line, std::chrono::milliseconds timeout = kDefaultCommandTimeout);

    // Arms a wait for the first event matching `pred` (see EventWatch).
    EventWatch watchEvent(EventPredicate pred);

    // Calls `handler` for every event until the returned handle is destroyed.
    Subscription subscribe(std::function<void(const QmpEvent&)> handler);

    // Called once when the connection ends for any reason other than close().
    void onDisconnect(DisconnectHandler handler);

    // Whether the server listed `command` in query-commands.
    bool supports(std::string_view command) const;
    bool connected() const;
    // The pid of the process serving the socket (SO_PEERCRED: the one that listened on it), or 0
    // when not connected.
    pid_t peerPid();

    // Closes the socket; pending calls and event waits complete with kind "Disconnected".
    void close();

    // Where notes about dropped input go (default: stderr).
    void setLogSink(QmpSession::LogSink log);

    ~QmpClient();

  private:
    struct Call;
    friend class Subscription;

    explicit QmpClient(boost::asio::any_io_executor executor);
    awaitable<void> park(std::shared_ptr<Call> call);
    // Hands a call's end (reply, timeout, disconnect) to its parked caller.
    void deliver(QmpReply& reply);
    void finish(Call& call, Result<Json> result);
    // Wakes connect() once the session has left the handshake, either way.
    void settleHandshake();
    // One timer for every deadline: armed at the session's next one, unless already earlier.
    void armDeadline();
    void onDeadline();
    // Sends what the session has queued until the socket would block (then the writer waits).
    void flush();
    awaitable<void> readLoop(std::shared_ptr<QmpClient> self);
    awaitable<void> writeLoop(std::shared_ptr<QmpClient> self);
    void dispatch(QmpRecord& record);
    void deliverEvent(const QmpEvent& event);
    bool matches(EventWatch::State& watch, const QmpEvent& event);
    void shutdown(const Error& error, bool notify);
    // Destroys parked callers without resuming them (their io_context is being destroyed).
    void releaseWaiters();
    void unsubscribe(std::uint64_t id);
    void log(std::string_view note);

    boost::asio::any_io_executor executor_;
    boost::asio::local::stream_protocol::socket socket_;
    QmpSession session_;
    QmpSession::LogSink log_;
    bool started_ = false;       // connect() was called
    bool closed_ = false;        // shut down for good
    bool writeBlocked_ = false;  // the socket is full: the writer waits until it drains
    std::unordered_map<std::uint64_t, std::shared_ptr<Call>> calls_;
    std::shared_ptr<Call> handshake_;
    boost::asio::steady_timer writeWake_;
    boost::asio::steady_timer deadlineTimer_;
    QmpTime armedAt_ = QmpTime::max();
    std::list<std::weak_ptr<EventWatch::State>> watches_;
    std::unordered_map<std::uint64_t, std::function<void(const QmpEvent&)>> subscribers_;
    std::uint64_t nextSubscription_ = 1;
    std::unordered_set<std::string> commands_;
    DisconnectHandler onDisconnect_;
};

}  // namespace corral::monitor

// Private to monitor/: the per-call and per-line state shared by the client's two source files.
#pragma once

#include "monitor/qmp_client.hpp"

#include <boost/asio/steady_timer.hpp>

#include <unistd.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

namespace corral::monitor {

namespace asio = boost::asio;

// Longest single wait we arm: keeps now() + timeout far from overflowing the clock.
inline constexpr std::chrono::milliseconds kMaxWait = std::chrono::hours(24 * 365);

inline std::string describeMs(std::chrono::milliseconds ms) {
    return std::to_string(ms.count()) + " ms";
}

inline std::chrono::milliseconds clampWait(std::chrono::milliseconds wait) {
    return std::clamp(wait, std::chrono::milliseconds(0), kMaxWait);
}

// One outstanding command (or the greeting): the waiter sleeps on `timer`, the reader fills
// `result` and cancels the timer to wake it.
struct QmpClient::Call {
    Call(asio::any_io_executor executor, std::string name)
        : timer(std::move(executor)), command(std::move(name)) {}
    asio::steady_timer timer;
    std::string command;
    std::optional<Result<Json>> result;
    bool abandoned = false;
};

// One line in the writer queue with its own duplicates of the fds to pass.
struct QmpClient::Outbound {
    std::shared_ptr<Call> call;
    std::string line;
    std::vector<int> fds;
    std::size_t written = 0;

    ~Outbound() { releaseFds(); }
    void releaseFds() {
        for (int fd : fds) ::close(fd);
        fds.clear();
    }
};

struct EventWatch::State {
    State(asio::any_io_executor executor, QmpClient::EventPredicate p)
        : timer(std::move(executor)), pred(std::move(p)) {}
    asio::steady_timer timer;
    QmpClient::EventPredicate pred;
    std::optional<Result<QmpEvent>> result;
};

}  // namespace corral::monitor

// Private to monitor/: the per-call and per-line state shared by the client's two source files.
#pragma once

#include "monitor/qmp_client.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <unistd.h>

#include <algorithm>
#include <memory>
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

// A parked coroutine's completion handler, type-erased and move-only (Boost 1.81 has no
// any_completion_handler). Waking posts it to its own executor, never resumes it inline.
class Wakeup {
  public:
    template <class Handler>
    explicit Wakeup(Handler handler) : impl_(std::make_unique<Impl<Handler>>(std::move(handler))) {}

    void post() && {
        auto impl = std::move(impl_);
        impl->post();
    }

  private:
    struct Base {
        virtual ~Base() = default;
        virtual void post() = 0;
    };
    template <class Handler>
    struct Impl final : Base {
        explicit Impl(Handler h) : handler(std::move(h)) {}
        void post() override {
            auto executor = asio::get_associated_executor(handler);
            asio::post(executor, std::move(handler));
        }
        Handler handler;
    };
    std::unique_ptr<Base> impl_;
};

// One outstanding command (or the greeting). The caller parks on `wakeup`; the reader, the
// deadline sweep or shutdown fills `result` and wakes it. No timer per call: one sweep timer
// per client covers every deadline, so a round trip costs no timerfd syscalls.
struct QmpClient::Call {
    Call(std::string name, std::chrono::milliseconds limit)
        : command(std::move(name)),
          timeout(limit),
          deadline(std::chrono::steady_clock::now() + clampWait(limit)) {}
    std::string command;
    std::chrono::milliseconds timeout;
    std::chrono::steady_clock::time_point deadline;
    std::optional<Result<Json>> result;
    std::optional<Wakeup> wakeup;
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

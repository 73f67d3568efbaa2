// Private to monitor/: the per-call state shared by the client's two source files.
#pragma once

#include "monitor/qmp_client.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <unistd.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace corral::monitor {

namespace asio = boost::asio;

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

// The waiting side of one call (or of the handshake): the session decides how it ends, the
// client fills `result` and wakes the parked caller. The fds are our duplicates, closed once the
// first byte of the call's line is out or when the call ends before that.
struct QmpClient::Call {
    ~Call() { releaseFds(); }
    void releaseFds() {
        for (int fd : fds) ::close(fd);
        fds.clear();
    }
    std::optional<Result<Json>> result;
    std::optional<Wakeup> wakeup;
    std::vector<int> fds;
};

struct EventWatch::State {
    State(asio::any_io_executor executor, QmpClient::EventPredicate p)
        : timer(std::move(executor)), pred(std::move(p)) {}
    asio::steady_timer timer;
    QmpClient::EventPredicate pred;
    std::optional<Result<QmpEvent>> result;
};

}  // namespace corral::monitor

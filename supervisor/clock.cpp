#include "supervisor/clock.hpp"

#include <boost/asio/steady_timer.hpp>

namespace corral::supervisor {

namespace {

class AsioTimer : public TimerHandle {
  public:
    AsioTimer(boost::asio::any_io_executor executor, Duration delay, std::function<void()> fn)
        : state_(std::make_shared<State>(std::move(executor), std::move(fn))) {
        state_->timer.expires_after(delay);
        // The handler holds the state alive; `cancelled` stops a completion already queued.
        state_->timer.async_wait([state = state_](const boost::system::error_code& ec) {
            if (ec || state->cancelled) return;
            state->fn();
        });
    }
    ~AsioTimer() override {
        state_->cancelled = true;
        state_->timer.cancel();
    }

  private:
    struct State {
        State(boost::asio::any_io_executor executor, std::function<void()> f)
            : timer(std::move(executor)), fn(std::move(f)) {}
        boost::asio::steady_timer timer;
        std::function<void()> fn;
        bool cancelled = false;
    };
    std::shared_ptr<State> state_;
};

}  // namespace

TimePoint AsioClock::now() const {
    return std::chrono::steady_clock::now();
}

std::uint64_t AsioClock::realtimeUsec() const {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::unique_ptr<TimerHandle> AsioClock::schedule(Duration delay, std::function<void()> fn) {
    return std::make_unique<AsioTimer>(executor_, delay, std::move(fn));
}

}  // namespace corral::supervisor

// Time as the lifecycle state machine sees it: a monotonic now, wall-clock timestamps for
// StartedAt, and one-shot timers. AsioClock is the real one; tests use a fake they advance.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

namespace corral::supervisor {

using Duration = std::chrono::steady_clock::duration;
using TimePoint = std::chrono::steady_clock::time_point;

// A scheduled callback; destroying the handle cancels it.
class TimerHandle {
  public:
    virtual ~TimerHandle() = default;
};

class Clock {
  public:
    virtual ~Clock() = default;
    virtual TimePoint now() const = 0;
    // Microseconds since the Unix epoch (for properties such as StartedAt).
    virtual std::uint64_t realtimeUsec() const = 0;
    // Runs `fn` once after `delay` unless the returned handle is destroyed first.
    virtual std::unique_ptr<TimerHandle> schedule(Duration delay, std::function<void()> fn) = 0;
};

class AsioClock : public Clock {
  public:
    explicit AsioClock(boost::asio::any_io_executor executor) : executor_(std::move(executor)) {}
    TimePoint now() const override;
    std::uint64_t realtimeUsec() const override;
    std::unique_ptr<TimerHandle> schedule(Duration delay, std::function<void()> fn) override;

  private:
    boost::asio::any_io_executor executor_;
};

}  // namespace corral::supervisor

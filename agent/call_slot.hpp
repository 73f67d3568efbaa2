// One call at a time on a channel whose protocol has a single conversation in flight (the
// negotiator and qemu-ga ports): acquire() waits its turn, in the order the calls came; the
// returned guard hands the slot to the next waiter however the call's coroutine ends.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <deque>
#include <memory>

namespace corral::agent {

class CallSlot {
  public:
    class Guard {
      public:
        explicit Guard(CallSlot& slot) : slot_(&slot) {}
        Guard(const Guard&) = delete;
        Guard& operator=(const Guard&) = delete;
        ~Guard() { slot_->release(); }

      private:
        CallSlot* slot_;
    };

    explicit CallSlot(boost::asio::any_io_executor executor) : executor_(std::move(executor)) {}
    // Suspends until the slot is this caller's; the owner of the slot must outlive the wait.
    boost::asio::awaitable<void> acquire();
    void release();

  private:
    boost::asio::any_io_executor executor_;
    bool busy_ = false;
    std::deque<std::shared_ptr<boost::asio::steady_timer>> waiters_;
};

}  // namespace corral::agent

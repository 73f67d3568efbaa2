#include "agent/call_slot.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>

namespace corral::agent {

boost::asio::awaitable<void> CallSlot::acquire() {
    if (!busy_) {
        busy_ = true;
        co_return;
    }
    auto waiter = std::make_shared<boost::asio::steady_timer>(
        executor_, std::chrono::steady_clock::time_point::max());
    waiters_.push_back(waiter);
    // release() hands the slot over by cancelling us.
    co_await waiter->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
}

void CallSlot::release() {
    if (waiters_.empty()) {
        busy_ = false;
        return;
    }
    auto next = waiters_.front();
    waiters_.pop_front();
    next->cancel();
}

}  // namespace corral::agent

#include "supervisor/bus_loop.hpp"

#include <poll.h>

#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

namespace corral::supervisor {

namespace asio = boost::asio;

// How many messages to process before yielding to other handlers on the io_context, so a
// flood of calls cannot starve QMP or process-exit handling.
constexpr int kProcessBatch = 64;

std::shared_ptr<BusLoop> BusLoop::attach(asio::io_context& io, sd_bus* bus) {
    int fd = sd_bus_get_fd(bus);
    if (fd < 0)
        throw std::runtime_error(std::string("D-Bus connection has no fd: ") + std::strerror(-fd));
    auto loop = std::shared_ptr<BusLoop>(new BusLoop(io, bus, fd));
    loop->arm();
    return loop;
}

BusLoop::BusLoop(asio::io_context& io, sd_bus* bus, int fd)
    : bus_(sd_bus_ref(bus)), fd_(io, fd), timer_(io) {}

BusLoop::~BusLoop() {
    detach();
    sd_bus_unref(bus_);
}

void BusLoop::detach() {
    if (detached_) return;
    detached_ = true;
    ++generation_;
    timer_.cancel();
    // The fd belongs to sd-bus: release it instead of letting the descriptor close it.
    fd_.cancel();
    fd_.release();
}

void BusLoop::kick() {
    if (kickPending_ || detached_) return;
    kickPending_ = true;
    asio::post(fd_.get_executor(), [weak = weak_from_this()] {
        if (auto self = weak.lock()) {
            self->kickPending_ = false;
            self->wake(self->generation_);
        }
    });
}

void BusLoop::wake(std::uint64_t generation) {
    if (detached_ || generation != generation_) return;
    ++generation_;  // whatever else was armed is now stale
    for (int i = 0; i < kProcessBatch; ++i) {
        int r = sd_bus_process(bus_, nullptr);
        if (r < 0) {
            std::fprintf(stderr, "<3>D-Bus connection failed: %s\n", std::strerror(-r));
            detach();
            return;
        }
        if (r == 0) {
            arm();
            return;
        }
    }
    // More work pending: continue after other handlers had their turn.
    asio::post(fd_.get_executor(), [weak = weak_from_this(), gen = generation_] {
        if (auto self = weak.lock()) self->wake(gen);
    });
}

void BusLoop::arm() {
    if (detached_) return;
    timer_.cancel();
    fd_.cancel();
    auto gen = generation_;
    int events = sd_bus_get_events(bus_);
    auto onReady = [weak = weak_from_this(), gen](const boost::system::error_code& ec) {
        if (ec == asio::error::operation_aborted) return;
        if (auto self = weak.lock()) self->wake(gen);
    };
    if (events < 0) {
        std::fprintf(stderr, "<3>D-Bus connection failed: %s\n", std::strerror(-events));
        detach();
        return;
    }
    if (events & POLLIN) fd_.async_wait(asio::posix::descriptor_base::wait_read, onReady);
    if (events & POLLOUT) fd_.async_wait(asio::posix::descriptor_base::wait_write, onReady);

    std::uint64_t usec = 0;
    if (sd_bus_get_timeout(bus_, &usec) >= 0 && usec != UINT64_MAX) {
        // sd-bus reports an absolute CLOCK_MONOTONIC time, which is steady_clock's epoch on Linux.
        auto deadline = std::chrono::steady_clock::time_point(std::chrono::microseconds(usec));
        timer_.expires_at(deadline);
        timer_.async_wait(onReady);
    }
}

}  // namespace corral::supervisor

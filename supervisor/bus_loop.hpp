// Drives an sd-bus connection from an Asio io_context: waits on the bus fd for the events
// sd-bus asks for and on its timeout, and processes messages until sd-bus has nothing left.
#pragma once

#include <systemd/sd-bus.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <memory>

namespace corral::supervisor {

class BusLoop : public std::enable_shared_from_this<BusLoop> {
  public:
    // Takes a reference on `bus`; the bus must already be started (sd_bus_open_* / sd_bus_start).
    // Throws std::runtime_error when sd-bus has no fd for it.
    static std::shared_ptr<BusLoop> attach(boost::asio::io_context& io, sd_bus* bus);
    ~BusLoop();
    BusLoop(const BusLoop&) = delete;
    BusLoop& operator=(const BusLoop&) = delete;

    sd_bus* bus() const { return bus_; }

    // Call after sending from outside a bus callback (deferred replies, signals): sd-bus may
    // have queued output, which changes the events to wait for.
    void kick();

    // Stops watching; pending work is dropped. Also done by the destructor.
    void detach();

  private:
    BusLoop(boost::asio::io_context& io, sd_bus* bus, int fd);
    void arm();
    void wake(std::uint64_t generation);

    sd_bus* bus_;
    boost::asio::posix::stream_descriptor fd_;
    boost::asio::steady_timer timer_;
    std::uint64_t generation_ = 0;
    bool kickPending_ = false;
    bool detached_ = false;
};

}  // namespace corral::supervisor

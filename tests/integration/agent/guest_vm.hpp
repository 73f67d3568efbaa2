// A booted guest image with both negotiator ports as chardev sockets, for the agent's guest tests
// and bench: qemu under TCG, the serial console, and an io_context to drive the host side.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/process.hpp"
#include "tests/support/serial_console.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::test {

class GuestVm {
  public:
    // Boots and waits for userspace; throws std::runtime_error with the transcript if it fails.
    // `extraArgs` go to qemu after the ports (disks, NICs).
    explicit GuestVm(const std::string& machine = "pc", std::vector<std::string> extraArgs = {});

    std::string hostToGuest() const { return (dir_ / "h2g.sock").string(); }
    std::string guestToHost() const { return (dir_ / "g2h.sock").string(); }
    SerialConsole& console() { return *console_; }
    const TempDir& dir() const { return dir_; }
    Process& qemu() { return qemu_; }

  private:
    TempDir dir_;
    Process qemu_;
    std::unique_ptr<SerialConsole> console_;
};

// Runs `io` until `future` is ready (bounded by `limit`) and returns its value.
template <class T>
T drive(boost::asio::io_context& io, std::future<T>& future,
        std::chrono::milliseconds limit = std::chrono::seconds(120)) {
    io.restart();
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (future.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
        if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("drive: hung");
        io.run_one_for(std::chrono::milliseconds(50));
    }
    return future.get();
}

// Runs `task` on `io` until it completes (its own timeouts bound the wait); other work on the
// io_context (a HostResponder) keeps running meanwhile.
template <class T>
T runOn(boost::asio::io_context& io, boost::asio::awaitable<T> task,
        std::chrono::milliseconds limit = std::chrono::seconds(120)) {
    auto future = boost::asio::co_spawn(io, std::move(task), boost::asio::use_future);
    return drive(io, future, limit);
}

}  // namespace corral::test

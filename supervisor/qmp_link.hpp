// The supervisor's only door to QMP: plain-typed commands, events and the raw passthrough over
// a monitor::QmpClient. All JSON handling lives in qmp_link.cpp (DESIGN.md: no RapidJSON
// values in supervisor/ beyond this one translation unit).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "supervisor/op_error.hpp"

namespace corral::monitor {
class QmpClient;
}

namespace corral::supervisor {

// The QMP events lifecycle policy cares about.
struct QmpNotice {
    enum class Kind { Shutdown, Stop, Resume } kind;
    bool guest = false;  // Shutdown: initiated by the guest (poweroff inside the VM)
};

// query-status: whether the vCPUs run and QEMU's run state ("running", "paused", "prelaunch":
// started with -S and never continued, ...).
struct RunStatus {
    bool running = false;
    std::string status;
};

class QmpLink {
  public:
    // Every command gets `timeout` to answer.
    QmpLink(boost::asio::any_io_executor executor, std::chrono::milliseconds timeout);
    ~QmpLink();
    QmpLink(const QmpLink&) = delete;
    QmpLink& operator=(const QmpLink&) = delete;

    // Connects and negotiates, retrying for `window` while QEMU creates the socket.
    boost::asio::awaitable<Status> connect(std::string socket, std::chrono::milliseconds window);
    // Runs a command without arguments ("cont", "system_powerdown", ...).
    boost::asio::awaitable<Status> command(std::string name);
    boost::asio::awaitable<Outcome<RunStatus>> queryStatus();
    // Raw passthrough: `json` is {"execute": ..., "arguments": ...}; returns the reply's
    // "return" value as compact JSON, or the QMP error as an OpError.
    boost::asio::awaitable<Outcome<std::string>> passthrough(std::string json);

    void onNotice(std::function<void(const QmpNotice&)> handler);
    // Called once when QEMU closes the connection (after every event before it was delivered).
    void onDisconnect(std::function<void()> handler);
    bool connected() const;
    void close();
    // For the hypervisor layer's hotplug, which speaks QMP itself.
    const std::shared_ptr<monitor::QmpClient>& client() const { return client_; }

  private:
    std::shared_ptr<monitor::QmpClient> client_;
    std::chrono::milliseconds timeout_;
    struct Subscription;
    std::unique_ptr<Subscription> subscription_;
};

}  // namespace corral::supervisor

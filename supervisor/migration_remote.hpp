// The source's connection to the destination corrald: its own sd-bus connection (a D-Bus address,
// or a host's system bus over ssh as `systemctl -H` does), driven by a BusLoop on corrald's
// io_context, so that no call blocks the loop; every call has a timeout.
#pragma once

#include <systemd/sd-bus.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/signal.hpp"
#include "supervisor/bus_loop.hpp"
#include "supervisor/dbus_ref.hpp"
#include "supervisor/op_error.hpp"

namespace corral::supervisor {

// What came back from one call: a reply, or an error with its D-Bus name.
struct RemoteReply {
    MessageRef message;  // set on success
    std::string errorName;
    std::string errorMessage;
    bool ok() const { return static_cast<bool>(message); }
    // The error was said by a corrald (org.corral1.Error.*) or by the bus because no corrald
    // owns the name: the call was answered, not lost.
    bool definite() const;
};

class RemoteCorrald {
  public:
    // Opens the connection (does not wait for it); an error names the destination.
    static Outcome<std::shared_ptr<RemoteCorrald>> open(boost::asio::io_context& io,
                                                        const std::string& destination);
    ~RemoteCorrald();
    RemoteCorrald(const RemoteCorrald&) = delete;
    RemoteCorrald& operator=(const RemoteCorrald&) = delete;

    // Calls org.corral1.Manager.METHOD on /org/corral1; `append` adds the arguments.
    boost::asio::awaitable<RemoteReply> call(std::string method,
                                             std::function<int(sd_bus_message*)> append,
                                             std::chrono::milliseconds timeout);
    // Raised once when org.corral1 loses its owner on the destination's bus or the connection
    // closes.
    corral::Signal<>& gone() { return gone_; }

  private:
    RemoteCorrald(boost::asio::io_context& io, sd_bus* bus);
    static int onOwnerChanged(sd_bus_message* m, void* userdata, sd_bus_error* error);
    static int onDisconnected(sd_bus_message* m, void* userdata, sd_bus_error* error);

    boost::asio::io_context& io_;
    sd_bus* bus_;
    std::shared_ptr<BusLoop> loop_;
    SlotRef ownerSlot_;
    SlotRef disconnectSlot_;
    corral::Signal<> gone_;
    bool goneRaised_ = false;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace corral::supervisor

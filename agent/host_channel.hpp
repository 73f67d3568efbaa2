// Host end of a VM's negotiator-host-to-guest.0 port: connects to QEMU's chardev socket (QEMU is
// the server, one client at a time) and calls the guest agent's methods, one call at a time.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/call_slot.hpp"
#include "agent/codec.hpp"
#include "agent/error.hpp"
#include "agent/methods.hpp"
#include "agent/rpc.hpp"

namespace corral::agent {

class HostChannel : public std::enable_shared_from_this<HostChannel> {
  public:
    // The socket is not touched until connect() or the first call.
    static std::shared_ptr<HostChannel> create(boost::asio::any_io_executor executor,
                                               std::string socketPath);

    // Connects (replacing any connection), retrying while the socket is missing or refuses, for
    // at most `window`; waits for a call in flight to finish first.
    boost::asio::awaitable<Result<void>> connect(std::chrono::milliseconds window);

    // Calls list_commands(): the names of the guest's user-defined commands.
    boost::asio::awaitable<Result<std::vector<std::string>>> listCommands(
        std::chrono::milliseconds timeout);

    // Calls execute(*argv, input=input): the command's stdout, or a Errc::Remote error that carries
    // the guest's message (exit code, stderr tail). A zero timeout waits forever.
    boost::asio::awaitable<Result<std::string>> execute(std::vector<std::string> argv,
                                                        std::optional<std::string> input,
                                                        std::chrono::milliseconds timeout);

    // Calls corral_run(*argv, input_base64=...): the command's exit status, stdout and stderr as
    // bytes (a command that exits non-zero is a result, not an error). Errc::NotSupported when
    // the guest's agent has no corral_run (an original negotiator-guest). A zero timeout waits
    // forever.
    boost::asio::awaitable<Result<RunOutcome>> run(RunRequest request,
                                                   std::chrono::milliseconds timeout);

    // True while the socket is connected. The protocol has no request ids: after a call timed
    // out the next call first sends a uniquely named probe and drops replies until the probe's
    // answer, so a late reply is never taken for a newer call's. A protocol error closes the
    // connection; the next call reconnects.
    bool connected() const;
    // Drops the connection; calls in flight end with Errc::Disconnected.
    void close();
    // For a client that cannot know what others did on this channel before it (a CLI run): an
    // earlier client may have left a call unanswered, so the next call synchronises first.
    void synchroniseBeforeNextCall() { needSync_ = true; }

    const std::string& socketPath() const { return socketPath_; }

  private:
    HostChannel(boost::asio::any_io_executor executor, std::string socketPath);
    boost::asio::awaitable<Result<Reply>> call(Call request, std::chrono::milliseconds timeout);
    boost::asio::awaitable<Result<void>> connectLocked(std::chrono::milliseconds window);
    boost::asio::awaitable<Result<Reply>> exchange(std::string frame);
    boost::asio::awaitable<Result<void>> send(std::string frame);
    boost::asio::awaitable<Result<Reply>> receive();
    boost::asio::awaitable<Result<void>> synchronise();

    boost::asio::any_io_executor executor_;
    std::string socketPath_;
    boost::asio::local::stream_protocol::socket socket_;
    FrameDecoder decoder_;
    bool needSync_ = false;  // a reply may still be on its way for a call that timed out
    unsigned syncCounter_ = 0;
    CallSlot slot_;
};

}  // namespace corral::agent

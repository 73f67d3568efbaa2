// Host end of a VM's org.qemu.guest_agent.0 port (qemu-guest-agent in the guest): connects to
// QEMU's chardev socket and holds one conversation at a time. Each call first synchronises
// (0xFF, guest-sync-delimited with a fresh random id, drop everything up to the agent's 0xFF and
// every reply that is not that id's), then sends its command and reads one reply line. The whole
// call is bounded by its timeout; a timeout or a protocol error drops the connection, so a late
// or hostile reply never reaches the next call. Lines are bounded by kQgaMaxLine.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "agent/call_slot.hpp"
#include "agent/qga_codec.hpp"

namespace corral::agent {

class QgaClient : public std::enable_shared_from_this<QgaClient> {
  public:
    // The socket is not touched until the first call.
    static std::shared_ptr<QgaClient> create(boost::asio::any_io_executor executor,
                                             std::string socketPath);

    // Only the synchronisation: whether an agent answers.
    boost::asio::awaitable<Result<void>> ping(std::chrono::milliseconds timeout);
    // One command; the text of its "return". `argumentsJson` is a JSON object or empty.
    boost::asio::awaitable<Result<std::string>> call(std::string command, std::string argumentsJson,
                                                     std::chrono::milliseconds timeout);
    // A command that sends no reply when it succeeds (guest-shutdown): done once it was written
    // after a successful synchronisation; an error reply that comes within `grace` is returned.
    boost::asio::awaitable<Result<void>> callNoReply(std::string command, std::string argumentsJson,
                                                     std::chrono::milliseconds timeout,
                                                     std::chrono::milliseconds grace);

    boost::asio::awaitable<Result<QgaOsInfo>> osInfo(std::chrono::milliseconds timeout);
    boost::asio::awaitable<Result<std::vector<QgaInterface>>> interfaces(
        std::chrono::milliseconds timeout);
    boost::asio::awaitable<Result<std::string>> hostName(std::chrono::milliseconds timeout);

    bool connected() const { return socket_.is_open(); }
    // Drops the connection; a call in flight ends with an error.
    void close();
    const std::string& socketPath() const { return socketPath_; }

  private:
    QgaClient(boost::asio::any_io_executor executor, std::string socketPath);
    boost::asio::awaitable<Result<std::string>> conversation(std::string frame, bool wantReply,
                                                             std::chrono::milliseconds grace);
    boost::asio::awaitable<Result<std::string>> bounded(std::string frame, bool wantReply,
                                                        std::chrono::milliseconds timeout,
                                                        std::chrono::milliseconds grace,
                                                        std::string what);
    boost::asio::awaitable<Result<void>> ensureConnected();
    boost::asio::awaitable<Result<void>> write(std::string bytes);
    boost::asio::awaitable<Result<std::string>> readLine();

    boost::asio::any_io_executor executor_;
    std::string socketPath_;
    boost::asio::local::stream_protocol::socket socket_;
    QgaLineReader reader_;
    CallSlot slot_;
};

}  // namespace corral::agent

// Host end of a VM's negotiator-guest-to-host.0 port: answers the guest's list_commands and
// execute calls with the commands of the host commands directory, and nothing else: unlike
// python-negotiator's host there is no built-in command and no other method. A guest client
// asks once and waits for the answer, so a request that arrives while a command runs means the
// caller gave up on it (the original CLI's -t): that reply is dropped. Runs on corrald's
// single-threaded io_context: commands run as child processes watched through pidfds and pipes,
// nothing blocks.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

#include "agent/codec.hpp"
#include "agent/rpc.hpp"

namespace corral::agent {

class HostResponder : public std::enable_shared_from_this<HostResponder> {
  public:
    struct Limits {
        std::chrono::milliseconds commandTimeout{std::chrono::seconds(10)};
        std::size_t maxOutput = kDefaultMaxMessage;   // stdout bytes; more is an error
        std::size_t maxMessage = kDefaultMaxMessage;  // request and reply frame cap
        std::chrono::milliseconds reconnectDelay{std::chrono::milliseconds(200)};
        // A request started but not continued for this long is dropped (its guest went away
        // mid-write), so that the next request is not read as the rest of its body.
        std::chrono::milliseconds partialTimeout{std::chrono::seconds(2)};
    };

    // `instanceName` goes into NEGOTIATOR_GUEST for every command.
    static std::shared_ptr<HostResponder> create(boost::asio::any_io_executor executor,
                                                 std::string socketPath, std::string instanceName,
                                                 std::filesystem::path commandsDir, Limits limits);
    static std::shared_ptr<HostResponder> create(boost::asio::any_io_executor executor,
                                                 std::string socketPath, std::string instanceName,
                                                 std::filesystem::path commandsDir);

    // Starts serving: connects (and reconnects after EOF or errors) until stop().
    void start();
    // Stops serving: closes the socket and kills a running command.
    void stop();
    // True while the socket to QEMU is connected.
    bool connected() const { return socket_.is_open(); }

  private:
    HostResponder(boost::asio::any_io_executor executor, std::string socketPath,
                  std::string instanceName, std::filesystem::path commandsDir, Limits limits);
    boost::asio::awaitable<void> run();
    boost::asio::awaitable<void> serveConnection();
    boost::asio::awaitable<Reply> answer(Call call);

    boost::asio::any_io_executor executor_;
    std::string socketPath_;
    std::string instanceName_;
    std::filesystem::path commandsDir_;
    Limits limits_;
    boost::asio::local::stream_protocol::socket socket_;
    boost::asio::steady_timer delay_;
    bool stopped_ = true;
};

}  // namespace corral::agent

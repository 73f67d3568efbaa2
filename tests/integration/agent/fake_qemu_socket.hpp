// Stands in for QEMU's chardev socket server (the peer end is the test itself, playing the
// guest): accepts one connection at a time and exchanges negotiator frames, on the io_context.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <chrono>
#include <optional>
#include <string>

#include "agent/codec.hpp"

namespace corral::test {

class FakeQemuSocket {
  public:
    FakeQemuSocket(boost::asio::io_context& io, const std::string& path);

    // Accepts the next client (bounded by `timeout`); false on timeout.
    boost::asio::awaitable<bool> accept(std::chrono::milliseconds timeout);
    // Sends raw bytes to the connected client.
    boost::asio::awaitable<void> send(std::string bytes);
    // The next frame body from the client, or nullopt on EOF/timeout.
    boost::asio::awaitable<std::optional<std::string>> receive(std::chrono::milliseconds timeout);
    // True when the client closed its end (EOF seen within `timeout`).
    boost::asio::awaitable<bool> closedByPeer(std::chrono::milliseconds timeout);
    void disconnect();

  private:
    boost::asio::io_context& io_;
    boost::asio::local::stream_protocol::acceptor acceptor_;
    boost::asio::local::stream_protocol::socket socket_;
    agent::FrameDecoder decoder_;
};

}  // namespace corral::test

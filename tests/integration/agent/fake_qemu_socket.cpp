#include "tests/integration/agent/fake_qemu_socket.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>

namespace corral::test {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

FakeQemuSocket::FakeQemuSocket(asio::io_context& io, const std::string& path)
    : io_(io), acceptor_(io, asio::local::stream_protocol::endpoint(path)), socket_(io) {}

asio::awaitable<bool> FakeQemuSocket::accept(std::chrono::milliseconds timeout) {
    disconnect();
    asio::steady_timer timer(io_, timeout);
    auto result = co_await (acceptor_.async_accept(kTuple) || timer.async_wait(kTuple));
    if (result.index() != 0) co_return false;
    auto [ec, socket] = std::move(std::get<0>(result));
    if (ec) co_return false;
    socket_ = std::move(socket);
    decoder_.reset();
    co_return true;
}

asio::awaitable<void> FakeQemuSocket::send(std::string bytes) {
    co_await asio::async_write(socket_, asio::buffer(bytes), kTuple);
}

asio::awaitable<std::optional<std::string>> FakeQemuSocket::receive(
    std::chrono::milliseconds timeout) {
    asio::steady_timer timer(io_, timeout);
    std::array<char, 65536> buffer;
    for (;;) {
        if (auto event = decoder_.next()) co_return event->body;
        auto result = co_await (socket_.async_read_some(asio::buffer(buffer), kTuple) ||
                                timer.async_wait(kTuple));
        if (result.index() != 0) co_return std::nullopt;
        auto [ec, n] = std::get<0>(result);
        if (ec) co_return std::nullopt;
        decoder_.feed(std::string_view(buffer.data(), n));
    }
}

asio::awaitable<bool> FakeQemuSocket::closedByPeer(std::chrono::milliseconds timeout) {
    asio::steady_timer timer(io_, timeout);
    std::array<char, 4096> buffer;
    for (;;) {
        auto result = co_await (socket_.async_read_some(asio::buffer(buffer), kTuple) ||
                                timer.async_wait(kTuple));
        if (result.index() != 0) co_return false;
        if (std::get<0>(std::get<0>(result))) co_return true;
    }
}

void FakeQemuSocket::disconnect() {
    boost::system::error_code ignored;
    socket_.close(ignored);
}

}  // namespace corral::test

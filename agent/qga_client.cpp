#include "agent/qga_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <functional>
#include <random>

namespace corral::agent {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using asio::awaitable;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {

// Replies to a synchronisation that are not its id, before giving up (stale ones of calls cut
// short are dropped with the connection, so a few at most come from a sane agent).
constexpr int kMaxStaleReplies = 16;

std::uint64_t randomId() {
    static std::mt19937_64 generator{std::random_device{}()};
    // QEMU keeps the id in an int64: stay below 2^53 so that any JSON reader keeps it exact.
    return generator() & ((std::uint64_t{1} << 53) - 1);
}

}  // namespace

std::shared_ptr<QgaClient> QgaClient::create(asio::any_io_executor executor,
                                             std::string socketPath) {
    return std::shared_ptr<QgaClient>(new QgaClient(std::move(executor), std::move(socketPath)));
}

QgaClient::QgaClient(asio::any_io_executor executor, std::string socketPath)
    : executor_(executor), socketPath_(std::move(socketPath)), socket_(executor), slot_(executor) {}

void QgaClient::close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
    reader_.reset();
}

awaitable<Result<void>> QgaClient::ensureConnected() {
    if (socket_.is_open()) co_return Result<void>();
    asio::local::stream_protocol::socket socket(executor_);
    auto [ec] =
        co_await socket.async_connect(asio::local::stream_protocol::endpoint(socketPath_), kTuple);
    if (ec) co_return Error{Errc::Connect, "cannot connect: " + ec.message()};
    socket_ = std::move(socket);
    reader_.reset();
    co_return Result<void>();
}

awaitable<Result<void>> QgaClient::write(std::string bytes) {
    auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(bytes), kTuple);
    (void)n;
    if (ec) co_return Error{Errc::Disconnected, "write failed: " + ec.message()};
    co_return Result<void>();
}

awaitable<Result<std::string>> QgaClient::readLine() {
    std::array<char, 65536> buffer;
    for (;;) {
        if (auto line = reader_.next()) co_return std::move(*line);
        auto [ec, n] = co_await socket_.async_read_some(asio::buffer(buffer), kTuple);
        if (ec) {
            co_return Error{Errc::Disconnected, ec == asio::error::eof
                                                    ? "the channel was closed (QEMU gone?)"
                                                    : "read failed: " + ec.message()};
        }
        reader_.feed(std::string_view(buffer.data(), n));
    }
}

awaitable<Result<std::string>> QgaClient::conversation(std::string frame, bool wantReply,
                                                       std::chrono::milliseconds grace) {
    auto connected = co_await ensureConnected();
    if (!connected) co_return connected.error();
    auto id = randomId();
    reader_.expectDelimiter();
    auto sent = co_await write(qgaSyncFrame(id));
    if (!sent) co_return sent.error();
    for (int stale = 0;; ++stale) {
        if (stale > kMaxStaleReplies)
            co_return Error{Errc::Protocol, "no answer to guest-sync-delimited among the replies"};
        auto line = co_await readLine();
        if (!line) co_return line.error();
        auto reply = parseQgaReply(*line);
        if (!reply) continue;  // garbage before the delimiter's reply: counted, dropped
        auto answered = parseQgaSyncId(*reply);
        if (answered && *answered == id) break;
    }
    if (frame.empty()) co_return std::string();
    sent = co_await write(std::move(frame));
    if (!sent) co_return sent.error();
    if (!wantReply) {
        // Success sends nothing; an error would come at once.
        asio::steady_timer timer(executor_, grace);
        auto winner = co_await (readLine() || timer.async_wait(kTuple));
        if (winner.index() == 1) co_return std::string();
        auto line = std::get<0>(std::move(winner));
        if (!line) co_return std::string();  // the guest went down: what it was asked to do
        auto reply = parseQgaReply(*line);
        if (!reply) co_return reply.error();
        co_return std::string();
    }
    auto line = co_await readLine();
    if (!line) co_return line.error();
    co_return parseQgaReply(*line);
}

awaitable<Result<std::string>> QgaClient::bounded(std::string frame, bool wantReply,
                                                  std::chrono::milliseconds timeout,
                                                  std::chrono::milliseconds grace,
                                                  std::string what) {
    auto self = shared_from_this();
    co_await slot_.acquire();
    CallSlot::Guard guard(slot_);
    asio::steady_timer timer(executor_, timeout);
    auto winner =
        co_await (conversation(std::move(frame), wantReply, grace) || timer.async_wait(kTuple));
    auto where = what + " via " + socketPath_;
    if (winner.index() == 1) {
        close();  // a late reply must not be read by the next call
        co_return Error{Errc::Timeout,
                        where + ": no answer within " + std::to_string(timeout.count()) + " ms"};
    }
    auto result = std::get<0>(std::move(winner));
    if (!result && result.error().kind != Errc::Remote) close();
    if (!result) {
        Error error{result.error().kind, where + ": " + result.error().message};
        error.remoteClass = result.error().remoteClass;
        co_return error;
    }
    co_return result;
}

awaitable<Result<void>> QgaClient::ping(std::chrono::milliseconds timeout) {
    auto result = co_await bounded({}, true, timeout, {}, "guest-sync-delimited");
    if (!result) co_return result.error();
    co_return Result<void>();
}

awaitable<Result<std::string>> QgaClient::call(std::string command, std::string argumentsJson,
                                               std::chrono::milliseconds timeout) {
    auto frame = qgaCommandFrame(command, argumentsJson);
    co_return co_await bounded(std::move(frame), true, timeout, {}, std::move(command));
}

awaitable<Result<void>> QgaClient::callNoReply(std::string command, std::string argumentsJson,
                                               std::chrono::milliseconds timeout,
                                               std::chrono::milliseconds grace) {
    auto frame = qgaCommandFrame(command, argumentsJson);
    auto result =
        co_await bounded(std::move(frame), false, timeout + grace, grace, std::move(command));
    if (!result) co_return result.error();
    co_return Result<void>();
}

awaitable<Result<QgaOsInfo>> QgaClient::osInfo(std::chrono::milliseconds timeout) {
    auto reply = co_await call("guest-get-osinfo", {}, timeout);
    if (!reply) co_return reply.error();
    co_return parseQgaOsInfo(*reply);
}

awaitable<Result<std::vector<QgaInterface>>> QgaClient::interfaces(
    std::chrono::milliseconds timeout) {
    auto reply = co_await call("guest-network-get-interfaces", {}, timeout);
    if (!reply) co_return reply.error();
    co_return parseQgaInterfaces(*reply);
}

awaitable<Result<std::string>> QgaClient::hostName(std::chrono::milliseconds timeout) {
    auto reply = co_await call("guest-get-host-name", {}, timeout);
    if (!reply) co_return reply.error();
    co_return parseQgaHostName(*reply);
}

}  // namespace corral::agent

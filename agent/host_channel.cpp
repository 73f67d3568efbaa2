#include "agent/host_channel.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>

namespace corral::agent {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using asio::awaitable;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {

std::string describe(const Call& call) {
    if (call.method == "execute" && !call.args.empty()) return "execute '" + call.args[0] + "'";
    return call.method;
}

}  // namespace

std::shared_ptr<HostChannel> HostChannel::create(asio::any_io_executor executor,
                                                 std::string socketPath) {
    return std::shared_ptr<HostChannel>(
        new HostChannel(std::move(executor), std::move(socketPath)));
}

HostChannel::HostChannel(asio::any_io_executor executor, std::string socketPath)
    : executor_(executor), socketPath_(std::move(socketPath)), socket_(executor), slot_(executor) {}

bool HostChannel::connected() const {
    return socket_.is_open();
}

void HostChannel::close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
}

awaitable<Result<void>> HostChannel::connect(std::chrono::milliseconds window) {
    auto self = shared_from_this();
    co_await slot_.acquire();
    CallSlot::Guard guard(slot_);
    co_return co_await connectLocked(window);
}

awaitable<Result<void>> HostChannel::connectLocked(std::chrono::milliseconds window) {
    auto deadline = Clock::now() + window;
    asio::steady_timer pause(executor_);
    boost::system::error_code ec;
    for (;;) {
        close();
        asio::local::stream_protocol::socket socket(executor_);
        std::tie(ec) = co_await socket.async_connect(
            asio::local::stream_protocol::endpoint(socketPath_), kTuple);
        if (!ec) {
            socket_ = std::move(socket);
            decoder_.reset();
            co_return Result<void>();
        }
        if (Clock::now() + std::chrono::milliseconds(50) >= deadline) break;
        pause.expires_after(std::chrono::milliseconds(50));
        co_await pause.async_wait(kTuple);
    }
    co_return Error{Errc::Connect, "cannot connect to the guest agent channel " + socketPath_ +
                                       ": " + ec.message()};
}

awaitable<Result<void>> HostChannel::send(std::string frame) {
    auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(frame), kTuple);
    (void)n;
    if (ec) {
        close();
        co_return Error{Errc::Disconnected, "write failed: " + ec.message()};
    }
    co_return Result<void>();
}

awaitable<Result<Reply>> HostChannel::receive() {
    std::array<char, 65536> buffer;
    for (;;) {
        if (auto event = decoder_.next()) {
            if (event->kind != FrameDecoder::Event::Kind::Message) {
                close();
                co_return Error{Errc::Protocol, "bad reply framing: " + event->error};
            }
            std::string problem;
            auto reply = parseReply(event->body, problem);
            if (!reply) {
                close();
                co_return Error{Errc::Protocol, "bad reply: " + problem};
            }
            co_return *reply;
        }
        auto [ec, n] = co_await socket_.async_read_some(asio::buffer(buffer), kTuple);
        if (ec == asio::error::operation_aborted && socket_.is_open()) {
            // The caller's deadline cancelled us: keep the connection, the next call resyncs.
            co_return Error{Errc::Timeout, "cancelled"};
        }
        if (ec) {
            close();
            co_return Error{Errc::Disconnected, ec == asio::error::eof
                                                    ? "the channel was closed (QEMU gone?)"
                                                    : "read failed: " + ec.message()};
        }
        decoder_.feed(std::string_view(buffer.data(), n));
    }
}

awaitable<Result<void>> HostChannel::synchronise() {
    // Every agent answers an unknown method with an error that names it, so a unique name marks
    // the point after which replies belong to us again.
    auto token = "corral_sync_" + std::to_string(++syncCounter_);
    auto probe = encodeFrame(encodeCall(Call{token, {}, {}}));
    auto sent = co_await send(std::move(probe));
    if (!sent) co_return sent;
    for (;;) {
        auto reply = co_await receive();
        if (!reply) co_return reply.error();
        if (!reply->success && reply->error.find(token) != std::string::npos) break;
    }
    needSync_ = false;
    co_return Result<void>();
}

awaitable<Result<Reply>> HostChannel::exchange(std::string frame) {
    if (needSync_) {
        auto synced = co_await synchronise();
        if (!synced) co_return synced.error();
    }
    auto sent = co_await send(std::move(frame));
    if (!sent) co_return sent.error();
    co_return co_await receive();
}

awaitable<Result<Reply>> HostChannel::call(Call request, std::chrono::milliseconds timeout) {
    auto self = shared_from_this();
    co_await slot_.acquire();
    CallSlot::Guard guard(slot_);
    auto where = describe(request) + " via " + socketPath_;
    auto deadline = Clock::now() + timeout;
    if (!socket_.is_open()) {
        auto window = timeout.count() > 0 ? std::min(timeout, std::chrono::milliseconds(2000))
                                          : std::chrono::milliseconds(2000);
        auto connected = co_await connectLocked(window);
        if (!connected) co_return connected.error();
    }
    auto frame = encodeFrame(encodeCall(request));
    Result<Reply> result = Error{};
    if (timeout.count() > 0) {
        asio::steady_timer timer(executor_, deadline);
        auto winner = co_await (exchange(std::move(frame)) || timer.async_wait(kTuple));
        if (winner.index() == 1) {
            // No request ids in this protocol: the late reply must never be taken for the next
            // call's, so the next call first resynchronises.
            needSync_ = true;
            co_return Error{Errc::Timeout,
                            where + ": no reply within " + std::to_string(timeout.count()) + " ms"};
        }
        result = std::get<0>(std::move(winner));
    } else {
        result = co_await exchange(std::move(frame));
    }
    if (!result && result.error().kind == Errc::Protocol) needSync_ = true;
    if (!result) co_return Error{result.error().kind, where + ": " + result.error().message};
    if (!result->success) co_return Error{Errc::Remote, result->error};
    co_return result;
}

awaitable<Result<std::vector<std::string>>> HostChannel::listCommands(
    std::chrono::milliseconds timeout) {
    // g++ 12 destroys temporaries inside a co_await expression twice: arguments are named first.
    Call request{"list_commands", {}, {}};
    auto reply = co_await call(std::move(request), timeout);
    if (!reply) co_return reply.error();
    if (std::holds_alternative<std::monostate>(reply->result)) {
        co_return std::vector<std::string>{};
    }
    if (auto* list = std::get_if<std::vector<std::string>>(&reply->result)) co_return *list;
    co_return Error{Errc::Protocol, "list_commands via " + socketPath_ +
                                        ": the guest answered a string, not a list"};
}

awaitable<Result<std::string>> HostChannel::execute(std::vector<std::string> argv,
                                                    std::optional<std::string> input,
                                                    std::chrono::milliseconds timeout) {
    if (argv.empty()) {
        co_return Error{Errc::InvalidArgument, "execute needs at least a command name"};
    }
    Call request{"execute", std::move(argv), {}};
    if (input) request.kw["input"] = std::move(input);
    auto reply = co_await call(std::move(request), timeout);
    if (!reply) co_return reply.error();
    // Error is constructible from a string too, so the value is placed explicitly.
    if (auto* text = std::get_if<std::string>(&reply->result)) {
        co_return Result<std::string>(boost::system::in_place_value, *text);
    }
    if (std::holds_alternative<std::monostate>(reply->result)) {
        co_return Result<std::string>(boost::system::in_place_value);
    }
    co_return Error{Errc::Protocol,
                    "execute via " + socketPath_ + ": the guest answered a list, not text"};
}

awaitable<Result<RunOutcome>> HostChannel::run(RunRequest request,
                                               std::chrono::milliseconds timeout) {
    if (request.argv.empty()) {
        co_return Error{Errc::InvalidArgument, "corral_run needs at least a command name"};
    }
    // Named first: g++ 12 destroys a temporary in a co_await's arguments twice.
    auto frame = makeRunCall(request);
    auto reply = co_await call(std::move(frame), timeout);
    if (!reply && reply.error().kind == Errc::Remote && lacksRunMethod(reply.error().message))
        co_return Error{Errc::NotSupported, reply.error().message};
    if (!reply) co_return reply.error();
    std::string problem;
    auto outcome = readRunReply(reply->result, problem);
    if (!outcome) co_return Error{Errc::Protocol, problem + " (via " + socketPath_ + ")"};
    co_return Result<RunOutcome>(boost::system::in_place_value, std::move(*outcome));
}

}  // namespace corral::agent

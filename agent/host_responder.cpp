#include "agent/host_responder.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <cstdio>
#include <exception>

#include "agent/async_command.hpp"
#include "agent/commands.hpp"
#include "agent/methods.hpp"

namespace corral::agent {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using asio::awaitable;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kCommandPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::shared_ptr<HostResponder> HostResponder::create(asio::any_io_executor executor,
                                                     std::string socketPath,
                                                     std::string instanceName,
                                                     std::filesystem::path commandsDir,
                                                     Limits limits) {
    return std::shared_ptr<HostResponder>(
        new HostResponder(std::move(executor), std::move(socketPath), std::move(instanceName),
                          std::move(commandsDir), limits));
}

std::shared_ptr<HostResponder> HostResponder::create(asio::any_io_executor executor,
                                                     std::string socketPath,
                                                     std::string instanceName,
                                                     std::filesystem::path commandsDir) {
    return create(std::move(executor), std::move(socketPath), std::move(instanceName),
                  std::move(commandsDir), Limits{});
}

HostResponder::HostResponder(asio::any_io_executor executor, std::string socketPath,
                             std::string instanceName, std::filesystem::path commandsDir,
                             Limits limits)
    : executor_(executor),
      socketPath_(std::move(socketPath)),
      instanceName_(std::move(instanceName)),
      commandsDir_(std::move(commandsDir)),
      limits_(limits),
      socket_(executor),
      delay_(executor) {}

void HostResponder::start() {
    if (!stopped_) return;
    stopped_ = false;
    asio::co_spawn(executor_, run(), [path = socketPath_](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            std::fprintf(stderr, "negotiator responder on %s stopped: %s\n", path.c_str(),
                         ex.what());
        }
    });
}

void HostResponder::stop() {
    stopped_ = true;
    boost::system::error_code ignored;
    socket_.close(ignored);
    delay_.cancel();
}

awaitable<void> HostResponder::run() {
    auto self = shared_from_this();
    while (!stopped_) {
        asio::local::stream_protocol::socket socket(executor_);
        auto [ec] = co_await socket.async_connect(
            asio::local::stream_protocol::endpoint(socketPath_), kTuple);
        if (!ec && !stopped_) {
            socket_ = std::move(socket);
            co_await serveConnection();
            boost::system::error_code ignored;
            socket_.close(ignored);
        }
        if (stopped_) break;
        // QEMU gone or restarting: try again, without spinning.
        delay_.expires_after(limits_.reconnectDelay);
        co_await delay_.async_wait(kTuple);
    }
}

awaitable<void> HostResponder::serveConnection() {
    FrameDecoder decoder(limits_.maxMessage);
    std::array<char, 65536> buffer;
    asio::steady_timer partial(executor_);
    for (;;) {
        std::size_t n = 0;
        if (decoder.midMessage()) {
            // A virtio port shows no reconnect: a guest that died mid-write leaves half a frame
            // that the next request must not complete.
            partial.expires_after(limits_.partialTimeout);
            auto got = co_await (socket_.async_read_some(asio::buffer(buffer), kTuple) ||
                                 partial.async_wait(kTuple));
            if (got.index() == 1) {
                std::fprintf(stderr, "negotiator responder on %s: dropping an incomplete message\n",
                             socketPath_.c_str());
                decoder.reset();
                continue;
            }
            auto [ec, count] = std::get<0>(got);
            if (ec) co_return;
            n = count;
        } else {
            auto [ec, count] = co_await socket_.async_read_some(asio::buffer(buffer), kTuple);
            if (ec) co_return;
            n = count;
        }
        decoder.feed(std::string_view(buffer.data(), n));
        while (auto event = decoder.next()) {
            Reply reply;
            if (event->kind == FrameDecoder::Event::Kind::Message) {
                auto parsed = parseCall(event->body);
                if (auto* call = std::get_if<Call>(&parsed)) {
                    bool runs = call->method == "execute";
                    reply = co_await answer(std::move(*call));
                    // A guest asks once and waits: a request sent while the command ran comes
                    // from a client that gave up on this one (its -t); it must not get the reply.
                    boost::system::error_code ignored;
                    if (runs && socket_.available(ignored) > 0) {
                        std::fprintf(stderr,
                                     "negotiator responder on %s: a new request came while a "
                                     "command ran; its caller gave up, the reply is dropped\n",
                                     socketPath_.c_str());
                        continue;
                    }
                } else {
                    reply = std::get<Reply>(std::move(parsed));
                }
            } else {
                reply = Reply::fail("protocol error: " + event->error);
            }
            auto frame = encodeFrame(encodeReplyWithin(reply, limits_.maxMessage));
            auto [wec, written] = co_await asio::async_write(socket_, asio::buffer(frame), kTuple);
            (void)written;
            // After garbage or a refused length, start afresh on a new connection rather than
            // wait for a body that a guest which reopened its port will never send.
            if (wec || event->kind != FrameDecoder::Event::Kind::Message) co_return;
        }
    }
}

awaitable<Reply> HostResponder::answer(Call call) {
    if (call.method == "list_commands") {
        if (auto refused = checkListCommands(call)) co_return *refused;
        co_return Reply::ok(listCommands({commandsDir_}));
    }
    if (call.method != "execute") co_return Reply::fail("unknown method '" + call.method + "'");
    auto read = readExecute(call);
    if (auto* refused = std::get_if<Reply>(&read)) co_return *refused;
    auto request = std::get<ExecuteRequest>(std::move(read));
    // The guest is not trusted: only files of the commands directory run, without a shell,
    // found by the basename of argv[0] as the original finds them.
    auto name = commandName(request.argv[0]);
    if (!isSafeCommandName(name)) {
        co_return Reply::fail("refused command name '" + request.argv[0] +
                              "': it names no file in " + commandsDir_.string());
    }
    auto program = findCommand(name, {commandsDir_});
    if (!program) {
        co_return Reply::fail("unknown command '" + name + "' (not in " + commandsDir_.string() +
                              ")");
    }
    // Nothing of corrald's own environment reaches a command the guest asked for.
    std::vector<std::string> env = {"PATH=" + std::string(kCommandPath), "LANG=C.UTF-8",
                                    "NEGOTIATOR_GUEST=" + instanceName_};
    CommandSpec spec{program->string(), std::move(request.argv), std::move(request.input),
                     std::move(env),    limits_.commandTimeout,  limits_.maxOutput};
    auto outcome = co_await runCommand(executor_, std::move(spec));
    if (!outcome.ok) co_return Reply::fail(outcome.error);
    co_return Reply::ok(capturedOutput(sanitizeUtf8(outcome.output)));
}

}  // namespace corral::agent

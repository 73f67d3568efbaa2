#include "supervisor/metrics_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <filesystem>
#include <optional>
#include <stdexcept>

#include "supervisor/metrics_exposition.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using local = asio::local::stream_protocol;

// Shared by the accept loop and every connection; a coroutine that resumes after the server was
// destroyed finds `closed` set and stops.
struct MetricsServer::State {
    asio::any_io_executor executor;
    std::function<std::string()> render;
    Limits limits;
    LogSink log;
    std::string where;
    std::optional<tcp::acceptor> tcpAcceptor;
    std::optional<local::acceptor> unixAcceptor;
    unsigned connections = 0;
    bool closed = false;
};

namespace {

constexpr std::string_view kPlain = "text/plain; charset=utf-8";

template <typename Socket>
asio::awaitable<void> writeAll(Socket& socket, const std::string& bytes) {
    boost::system::error_code ec;
    co_await asio::async_write(socket, asio::buffer(bytes),
                               asio::redirect_error(asio::use_awaitable, ec));
}

// One request: read its head under the deadline, answer, close. A client that has not sent a
// complete head by the deadline gets 408; one that does not take the answer within another
// deadline is cut off.
template <typename Socket>
asio::awaitable<void> serve(std::shared_ptr<MetricsServer::State> state, Socket socket) {
    asio::steady_timer deadline(state->executor, state->limits.deadline);
    bool expired = false;
    deadline.async_wait([&socket, &expired](boost::system::error_code ec) {
        if (ec) return;
        expired = true;
        boost::system::error_code ignored;
        socket.cancel(ignored);
    });
    std::string received;
    HttpDecision decision;
    char buffer[1024];
    bool readFailed = false;
    while (decision.kind == HttpDecision::Kind::NeedMore) {
        boost::system::error_code ec;
        auto n = co_await socket.async_read_some(asio::buffer(buffer),
                                                 asio::redirect_error(asio::use_awaitable, ec));
        if (state->closed) co_return;
        if (ec) {
            readFailed = !expired;
            break;
        }
        received.append(buffer, n);
        decision = examineRequest(received, state->limits.maxRequestHead);
    }
    std::string response;
    if (decision.kind == HttpDecision::Kind::Serve) {
        response = httpResponse(200, kExpositionContentType, state->render(), !decision.head);
    } else if (decision.kind == HttpDecision::Kind::Reject) {
        response = httpResponse(decision.status, kPlain, decision.reason + "\n");
    } else if (!readFailed) {
        response = httpResponse(408, kPlain, "no complete request within the deadline\n");
    }
    boost::system::error_code ignored;
    if (!response.empty()) {
        deadline.cancel();
        deadline.expires_after(state->limits.deadline);
        deadline.async_wait([&socket](boost::system::error_code ec) {
            if (ec) return;
            boost::system::error_code ignored;
            socket.close(ignored);
        });
        co_await writeAll(socket, response);
        if (state->closed) co_return;
    }
    deadline.cancel();
    socket.shutdown(Socket::shutdown_both, ignored);
    socket.close(ignored);
}

template <typename Acceptor>
asio::awaitable<void> acceptLoop(std::shared_ptr<MetricsServer::State> state, Acceptor& acceptor) {
    for (;;) {
        boost::system::error_code ec;
        auto socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (state->closed) co_return;
        if (ec) {
            if (ec == asio::error::operation_aborted) co_return;
            if (state->log) state->log(4, "metrics " + state->where + ": accept: " + ec.message());
            continue;
        }
        if (state->connections >= state->limits.maxConnections) {
            // Best effort, never waiting: the client learns why, the loop goes on.
            socket.non_blocking(true, ec);
            auto busy = httpResponse(503, kPlain, "too many connections\n");
            socket.write_some(asio::buffer(busy), ec);
            socket.close(ec);
            continue;
        }
        ++state->connections;
        asio::co_spawn(state->executor, serve(state, std::move(socket)),
                       [state](std::exception_ptr) { --state->connections; });
    }
}

}  // namespace

MetricsServer::MetricsServer(asio::any_io_executor executor, const ListenAddress& address,
                             std::function<std::string()> render, Limits limits, LogSink log)
    : state_(std::make_shared<State>()) {
    state_->executor = executor;
    state_->render = std::move(render);
    state_->limits = limits;
    state_->log = std::move(log);
    state_->where = toString(address);
    try {
        if (address.kind == ListenAddress::Kind::Unix) {
            std::error_code ec;
            if (std::filesystem::is_socket(address.path, ec))
                std::filesystem::remove(address.path, ec);
            state_->unixAcceptor.emplace(executor, local::endpoint(address.path));
            asio::co_spawn(executor, acceptLoop(state_, *state_->unixAcceptor), asio::detached);
        } else {
            tcp::endpoint endpoint(asio::ip::make_address(address.host), address.port);
            state_->tcpAcceptor.emplace(executor, endpoint);
            asio::co_spawn(executor, acceptLoop(state_, *state_->tcpAcceptor), asio::detached);
        }
    } catch (const boost::system::system_error& e) {
        throw std::runtime_error("cannot listen for metrics on " + state_->where + ": " +
                                 e.code().message());
    }
}

MetricsServer::~MetricsServer() {
    state_->closed = true;
    boost::system::error_code ec;
    if (state_->tcpAcceptor) state_->tcpAcceptor->close(ec);
    if (state_->unixAcceptor) state_->unixAcceptor->close(ec);
}

unsigned short MetricsServer::port() const {
    return state_->tcpAcceptor ? state_->tcpAcceptor->local_endpoint().port() : 0;
}

}  // namespace corral::supervisor

#include "monitor/qmp_client.hpp"
#include "monitor/qmp_client_internal.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>

namespace corral::monitor {

using boost::asio::as_tuple;
using boost::asio::use_awaitable;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::chrono::milliseconds kConnectRetryDelay = 20ms;

void logSpawnFailure(std::exception_ptr failure) {
    if (!failure) return;
    try {
        std::rethrow_exception(failure);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "qmp: internal coroutine failed: %s\n", e.what());
    }
}

}  // namespace

QmpClient::QmpClient(asio::any_io_executor executor)
    : executor_(executor),
      socket_(executor),
      session_([this](std::string_view note) { log(note); }),
      writeWake_(executor),
      deadlineTimer_(executor) {}

QmpClient::~QmpClient() = default;

std::shared_ptr<QmpClient> QmpClient::create(asio::any_io_executor executor) {
    return std::shared_ptr<QmpClient>(new QmpClient(std::move(executor)));
}

void QmpClient::setLogSink(QmpSession::LogSink log) {
    log_ = std::move(log);
}

void QmpClient::log(std::string_view note) {
    if (log_) {
        log_(note);
    } else {
        std::fprintf(stderr, "qmp: %.*s\n", static_cast<int>(note.size()), note.data());
    }
}

awaitable<Result<void>> QmpClient::connect(std::string socketPath, std::chrono::milliseconds window,
                                           std::chrono::milliseconds negotiate) {
    using namespace asio::experimental::awaitable_operators;
    auto self = shared_from_this();
    if (started_) co_return makeError(Errc::Protocol, "connect", "a client connects only once");
    started_ = true;
    if (socketPath.size() >= sizeof(sockaddr_un::sun_path)) {
        co_return makeError(Errc::Connect, "connect", "socket path too long: " + socketPath);
    }
    const auto deadline = Clock::now() + clampWait(window);
    const asio::local::stream_protocol::endpoint endpoint(socketPath);
    asio::steady_timer timer(executor_);
    for (;;) {
        socket_ = asio::local::stream_protocol::socket(executor_);
        timer.expires_at(deadline);
        auto outcome = co_await (socket_.async_connect(endpoint, as_tuple(use_awaitable)) ||
                                 timer.async_wait(as_tuple(use_awaitable)));
        std::string why = "no answer";
        if (outcome.index() == 0) {
            auto [ec] = std::get<0>(outcome);
            if (!ec) break;
            why = ec.message();
        }
        boost::system::error_code ignored;
        socket_.close(ignored);
        if (Clock::now() + kConnectRetryDelay >= deadline) {
            closed_ = true;
            co_return makeError(Errc::Connect, socketPath,
                                "not accepting within " + describeMs(window) + ": " + why);
        }
        timer.expires_after(kConnectRetryDelay);
        co_await timer.async_wait(as_tuple(use_awaitable));
    }

    session_.limitHandshake(Clock::now(), negotiate);
    handshake_ = std::make_shared<Call>();
    auto handshake = handshake_;
    armDeadline();
    asio::co_spawn(executor_, readLoop(shared_from_this()), logSpawnFailure);
    asio::co_spawn(executor_, writeLoop(shared_from_this()), logSpawnFailure);
    co_await park(handshake);
    handshake_.reset();
    if (!*handshake->result) {
        shutdown(handshake->result->error(), false);
        co_return handshake->result->error();
    }
    auto commands = co_await execute("query-commands", Json(), negotiate);
    if (!commands) {
        shutdown(commands.error(), false);
        co_return commands.error();
    }
    if (commands->IsArray()) {
        for (const auto& entry : commands->GetArray()) {
            auto name = entry.IsObject() ? entry.FindMember("name") : entry.MemberEnd();
            if (entry.IsObject() && name != entry.MemberEnd() && name->value.IsString()) {
                commands_.emplace(name->value.GetString());
            }
        }
    }
    co_return Result<void>();
}

awaitable<void> QmpClient::park(std::shared_ptr<Call> call) {
    if (call->result) co_return;
    co_await asio::async_initiate<decltype(use_awaitable), void()>(
        [&call](auto handler) { call->wakeup.emplace(std::move(handler)); }, use_awaitable);
}

void QmpClient::finish(Call& call, Result<Json> result) {
    call.releaseFds();
    call.result = std::move(result);
    if (call.wakeup) {
        auto wakeup = std::move(*call.wakeup);
        call.wakeup.reset();
        std::move(wakeup).post();
    }
}

void QmpClient::deliver(QmpReply& reply) {
    auto node = calls_.extract(reply.id);
    if (!node.empty()) finish(*node.mapped(), std::move(reply.result));
}

void QmpClient::settleHandshake() {
    if (!handshake_ || handshake_->result) return;
    switch (session_.state()) {
        case QmpSession::State::AwaitingGreeting:
        case QmpSession::State::Negotiating:
            return;
        case QmpSession::State::Ready:
            finish(*handshake_, Json());
            return;
        case QmpSession::State::Failed:
            finish(*handshake_, session_.failure());
            return;
    }
}

void QmpClient::armDeadline() {
    if (closed_) return;
    auto next = session_.nextDeadline();
    if (!next || *next >= armedAt_) return;
    armedAt_ = *next;
    deadlineTimer_.expires_at(*next);
    deadlineTimer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
        if (ec) return;
        if (auto self = weak.lock()) self->onDeadline();
    });
}

void QmpClient::onDeadline() {
    armedAt_ = QmpTime::max();
    for (auto& ended : session_.expire(Clock::now())) deliver(ended);
    if (session_.state() == QmpSession::State::Failed) {
        // Only the handshake fails the session on time: connect() reports it.
        shutdown(session_.failure(), false);
        return;
    }
    armDeadline();
}

awaitable<Result<Json>> QmpClient::execute(std::string command, Json args,
                                           std::chrono::milliseconds timeout,
                                           std::vector<int> fds) {
    if (!connected()) co_return makeError(Errc::Disconnected, command, "not connected");
    auto self = shared_from_this();
    auto pending = std::make_shared<Call>();
    for (int fd : fds) {
        int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (copy < 0) {
            co_return makeError(
                Errc::Protocol, command,
                "cannot pass fd " + std::to_string(fd) + ": " + std::strerror(errno));
        }
        pending->fds.push_back(copy);
    }
    auto id = session_.execute(command, args, Clock::now(), timeout);
    if (!id) co_return id.error();
    calls_.emplace(*id, pending);
    flush();
    armDeadline();
    co_await park(pending);
    co_return std::move(*pending->result);
}

awaitable<Result<void>> QmpClient::getfd(std::string name, int fd,
                                         std::chrono::milliseconds timeout) {
    std::vector<int> fds(1, fd);
    auto reply =
        co_await execute("getfd", JsonObject().set("fdname", name).take(), timeout, std::move(fds));
    if (!reply) co_return reply.error();
    co_return Result<void>();
}

awaitable<Result<void>> QmpClient::removeFd(int fdset, std::chrono::milliseconds timeout) {
    auto reply = co_await execute("remove-fd", JsonObject().set("fdset-id", fdset).take(), timeout);
    if (!reply) co_return reply.error();
    co_return Result<void>();
}

awaitable<Result<std::string>> QmpClient::humanMonitorCommand(std::string line,
                                                              std::chrono::milliseconds timeout) {
    auto reply = co_await execute("human-monitor-command",
                                  JsonObject().set("command-line", line).take(), timeout);
    if (!reply) co_return reply.error();
    if (!reply->IsString()) {
        co_return makeError(Errc::Protocol, "human-monitor-command",
                            "reply is not a string: " + toJsonString(*reply));
    }
    co_return std::string(reply->GetString(), reply->GetStringLength());
}

EventWatch QmpClient::watchEvent(EventPredicate pred) {
    auto state = std::make_shared<EventWatch::State>(executor_, std::move(pred));
    if (closed_) {
        state->result = makeError(Errc::Disconnected, "event wait", "not connected");
    } else {
        watches_.push_back(state);
    }
    return EventWatch(std::move(state));
}

EventWatch::EventWatch(std::shared_ptr<State> state) : state_(std::move(state)) {}

awaitable<Result<QmpEvent>> EventWatch::wait(std::chrono::milliseconds timeout) {
    auto state = state_;
    if (!state) co_return makeError(Errc::Protocol, "event wait", "watch was never armed");
    if (!state->result) {
        state->timer.expires_after(clampWait(timeout));
        co_await state->timer.async_wait(as_tuple(use_awaitable));
    }
    if (!state->result) {
        co_return makeError(Errc::Timeout, "event wait",
                            "no matching event within " + describeMs(timeout));
    }
    if (!*state->result) co_return state->result->error();
    // Consumed: the watch stays armed for the next matching event.
    auto event = std::move(*state->result);
    state->result.reset();
    co_return event;
}

Subscription QmpClient::subscribe(std::function<void(const QmpEvent&)> handler) {
    std::uint64_t id = nextSubscription_++;
    subscribers_.emplace(id, std::move(handler));
    return Subscription(weak_from_this(), id);
}

void QmpClient::unsubscribe(std::uint64_t id) {
    subscribers_.erase(id);
}

void QmpClient::onDisconnect(DisconnectHandler handler) {
    onDisconnect_ = std::move(handler);
}

bool QmpClient::supports(std::string_view command) const {
    return commands_.contains(std::string(command));
}

bool QmpClient::connected() const {
    return !closed_ && session_.state() == QmpSession::State::Ready;
}

pid_t QmpClient::peerPid() {
    if (closed_ || !socket_.is_open()) return 0;
    ucred peer{};
    socklen_t size = sizeof peer;
    if (::getsockopt(socket_.native_handle(), SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0) return 0;
    return peer.pid;
}

void QmpClient::close() {
    shutdown(makeError(Errc::Disconnected, "QMP", "closed by its owner"), false);
}

Subscription::Subscription(std::weak_ptr<QmpClient> client, std::uint64_t id)
    : client_(std::move(client)), id_(id) {}

Subscription::Subscription(Subscription&& other) noexcept
    : client_(std::move(other.client_)), id_(std::exchange(other.id_, 0)) {}

Subscription& Subscription::operator=(Subscription&& other) noexcept {
    if (this != &other) {
        reset();
        client_ = std::move(other.client_);
        id_ = std::exchange(other.id_, 0);
    }
    return *this;
}

Subscription::~Subscription() {
    reset();
}

void Subscription::reset() {
    if (auto client = client_.lock(); client && id_ != 0) client->unsubscribe(id_);
    client_.reset();
    id_ = 0;
}

}  // namespace corral::monitor

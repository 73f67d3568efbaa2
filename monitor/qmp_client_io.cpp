// The client's I/O half: the reader coroutine, the writer queue and connection teardown.
#include "monitor/qmp_client.hpp"
#include "monitor/qmp_client_internal.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <exception>

namespace corral::monitor {

using boost::asio::as_tuple;
using boost::asio::use_awaitable;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;

QmpEvent copyEvent(const QmpEvent& event) {
    return QmpEvent{event.name, copyJson(event.data), event.seconds, event.micros};
}

}  // namespace

void QmpClient::enqueue(std::shared_ptr<Outbound> line) {
    // Fast path: nothing queued, so this line may go out right now without a writer round trip.
    if (writeQueue_.empty()) {
        int error = 0;
        if (!trySend(*line, error)) {
            shutdown(makeError(Errc::Disconnected, "QMP",
                               std::string("write failed: ") + std::strerror(error)),
                     true);
            return;
        }
        if (line->written == line->line.size()) return;
    }
    writeQueue_.push_back(std::move(line));
    if (writerIdle_) writeWake_.cancel();
}

bool QmpClient::trySend(Outbound& line, int& error) {
    while (line.written < line.line.size()) {
        iovec iov{line.line.data() + line.written, line.line.size() - line.written};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        std::vector<char> control;
        if (!line.fds.empty()) {
            // The fds ride on the first byte of the line, so QEMU has them when it parses it.
            control.resize(CMSG_SPACE(sizeof(int) * line.fds.size()));
            msg.msg_control = control.data();
            msg.msg_controllen = control.size();
            cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
            cmsg->cmsg_level = SOL_SOCKET;
            cmsg->cmsg_type = SCM_RIGHTS;
            cmsg->cmsg_len = CMSG_LEN(sizeof(int) * line.fds.size());
            std::memcpy(CMSG_DATA(cmsg), line.fds.data(), sizeof(int) * line.fds.size());
        }
        ssize_t sent = ::sendmsg(socket_.native_handle(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
            error = errno;
            return false;
        }
        line.written += static_cast<std::size_t>(sent);
        line.releaseFds();
    }
    return true;
}

awaitable<void> QmpClient::writeLoop(std::shared_ptr<QmpClient> /*keepAlive*/) {
    while (!closed_) {
        if (writeQueue_.empty()) {
            writerIdle_ = true;
            writeWake_.expires_at(asio::steady_timer::time_point::max());
            co_await writeWake_.async_wait(as_tuple(use_awaitable));
            writerIdle_ = false;
            continue;
        }
        auto line = writeQueue_.front();
        // A call that timed out before any byte left is dropped; a started line is finished,
        // or QEMU would read the next command glued to half of this one.
        if (line->written == 0 && line->call->abandoned) {
            writeQueue_.pop_front();
            continue;
        }
        int error = 0;
        if (!trySend(*line, error)) {
            shutdown(makeError(Errc::Disconnected, "QMP",
                               std::string("write failed: ") + std::strerror(error)),
                     true);
            co_return;
        }
        if (line->written == line->line.size()) {
            writeQueue_.pop_front();
            continue;
        }
        auto [ec] =
            co_await socket_.async_wait(asio::socket_base::wait_write, as_tuple(use_awaitable));
        if (ec && !closed_) {
            shutdown(makeError(Errc::Disconnected, "QMP", "write wait failed: " + ec.message()),
                     true);
        }
    }
}

awaitable<void> QmpClient::readLoop(std::shared_ptr<QmpClient> /*keepAlive*/) {
    // Runs only when this frame is destroyed unfinished, i.e. the io_context goes away under
    // an open connection: parked callers can never be resumed then, and their frames hold
    // references to this client, so they are released here instead of leaking in a cycle.
    struct ReleaseOnDestroy {
        QmpClient& client;
        bool armed = true;
        ~ReleaseOnDestroy() {
            if (armed) client.releaseWaiters();
        }
    } guard{*this};
    std::vector<char> buffer(kReadChunk);
    try {
        while (!closed_) {
            auto [ec, n] =
                co_await socket_.async_read_some(asio::buffer(buffer), as_tuple(use_awaitable));
            if (closed_) break;
            if (ec) {
                std::string why = ec == asio::error::eof ? std::string("QEMU closed the connection")
                                                         : "read failed: " + ec.message();
                shutdown(makeError(Errc::Disconnected, "QMP", why), true);
                break;
            }
            auto records = session_.feed(std::string_view(buffer.data(), n));
            if (!records) {
                shutdown(makeError(Errc::Disconnected, "QMP", records.error().message), true);
                break;
            }
            for (auto& record : *records) dispatch(record);
        }
    } catch (const std::exception& e) {
        // Only our own bugs or a throwing disconnect handler get here: fail loudly, never hang.
        log(std::string("reader failed: ") + e.what());
        shutdown(makeError(Errc::Disconnected, "QMP", std::string("internal error: ") + e.what()),
                 false);
    }
    guard.armed = false;
}

void QmpClient::releaseWaiters() {
    closed_ = true;
    connected_ = false;
    auto calls = std::move(calls_);
    calls_.clear();
    writeQueue_.clear();
    for (auto& [id, call] : calls) call->wakeup.reset();
    if (auto greeting = std::move(greetingWait_)) greeting->wakeup.reset();
}

void QmpClient::dispatch(QmpRecord& record) {
    if (auto* greeting = std::get_if<QmpGreeting>(&record)) {
        if (greetingWait_ && !greetingWait_->result) complete(*greetingWait_, Json());
        (void)greeting;
    } else if (auto* reply = std::get_if<QmpReply>(&record)) {
        auto node = calls_.extract(reply->id);
        if (node.empty()) return;
        complete(*node.mapped(), std::move(reply->result));
    } else {
        deliverEvent(std::get<QmpEvent>(record));
    }
}

bool QmpClient::matches(EventWatch::State& watch, const QmpEvent& event) {
    // A throwing predicate must not kill the reader: it counts as "no match".
    try {
        return watch.pred(event);
    } catch (const std::exception& e) {
        log("event predicate for " + event.name + " threw: " + e.what());
        return false;
    }
}

void QmpClient::deliverEvent(const QmpEvent& event) {
    // Handlers may subscribe or unsubscribe while we iterate: walk a snapshot of the ids.
    std::vector<std::uint64_t> ids;
    ids.reserve(subscribers_.size());
    for (const auto& [id, handler] : subscribers_) ids.push_back(id);
    for (auto id : ids) {
        auto it = subscribers_.find(id);
        if (it == subscribers_.end()) continue;
        auto handler = it->second;
        try {
            handler(event);
        } catch (const std::exception& e) {
            log("event handler for " + event.name + " threw: " + e.what());
        }
    }
    for (auto it = watches_.begin(); it != watches_.end();) {
        auto watch = it->lock();
        if (!watch) {
            it = watches_.erase(it);
            continue;
        }
        if (!watch->result && matches(*watch, event)) {
            watch->result = copyEvent(event);
            watch->timer.cancel();
        }
        ++it;
    }
}

void QmpClient::shutdown(const Error& error, bool notify) {
    if (closed_) return;
    closed_ = true;
    connected_ = false;
    boost::system::error_code ignored;
    socket_.close(ignored);
    writeWake_.cancel();
    writeQueue_.clear();
    session_.fail();
    const std::string detail = error.message;
    deadlineTimer_.cancel();
    armedAt_ = Clock::time_point::max();
    auto calls = std::move(calls_);
    calls_.clear();
    for (auto& [id, call] : calls) {
        complete(*call, Error{Errc::Disconnected, call->command + ": " + detail});
    }
    if (greetingWait_ && !greetingWait_->result) complete(*greetingWait_, error);
    for (auto& weak : watches_) {
        if (auto watch = weak.lock()) {
            watch->result = Error{Errc::Disconnected, "event wait: " + detail};
            watch->timer.cancel();
        }
    }
    watches_.clear();
    if (notify && onDisconnect_) {
        auto handler = std::move(onDisconnect_);
        handler(error);
    }
}

}  // namespace corral::monitor

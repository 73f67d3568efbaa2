// The client's I/O half: the reader coroutine, the writer, event delivery and teardown. What to
// write and when a call ends is the session's decision; this file only carries it out.
#include "monitor/qmp_client.hpp"
#include "monitor/qmp_client_internal.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <string_view>
#include <vector>

namespace corral::monitor {

using boost::asio::as_tuple;
using boost::asio::use_awaitable;

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;

QmpEvent copyEvent(const QmpEvent& event) {
    return QmpEvent{event.name, copyJson(event.data), event.seconds, event.micros};
}

// One sendmsg of `bytes`; `fds` (if any) ride on its first byte, so QEMU has them when it parses
// the line. Returns the bytes sent, or -1 with errno.
ssize_t sendSome(int socket, std::string_view bytes, const std::vector<int>* fds) {
    iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    std::vector<char> control;
    if (fds && !fds->empty()) {
        control.resize(CMSG_SPACE(sizeof(int) * fds->size()));
        msg.msg_control = control.data();
        msg.msg_controllen = control.size();
        cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds->size());
        std::memcpy(CMSG_DATA(cmsg), fds->data(), sizeof(int) * fds->size());
    }
    return ::sendmsg(socket, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
}

}  // namespace

void QmpClient::flush() {
    while (!closed_ && !writeBlocked_) {
        auto write = session_.nextWrite();
        if (!write) return;
        Call* call = nullptr;
        if (write->first) {
            auto it = calls_.find(write->id);
            if (it != calls_.end()) call = it->second.get();
        }
        ssize_t sent = sendSome(socket_.native_handle(), write->bytes, call ? &call->fds : nullptr);
        if (sent < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                writeBlocked_ = true;
                writeWake_.cancel();
                return;
            }
            shutdown(makeError(Errc::Disconnected, "QMP",
                               std::string("write failed: ") + std::strerror(errno)),
                     true);
            return;
        }
        if (call) call->releaseFds();
        session_.commitWrite(static_cast<std::size_t>(sent));
    }
}

awaitable<void> QmpClient::writeLoop(std::shared_ptr<QmpClient> /*keepAlive*/) {
    // Sleeps until flush() finds the socket full, then waits for it to drain and flushes again.
    while (!closed_) {
        if (!writeBlocked_) {
            writeWake_.expires_at(asio::steady_timer::time_point::max());
            co_await writeWake_.async_wait(as_tuple(use_awaitable));
            continue;
        }
        auto [ec] =
            co_await socket_.async_wait(asio::socket_base::wait_write, as_tuple(use_awaitable));
        if (closed_) break;
        if (ec) {
            shutdown(makeError(Errc::Disconnected, "QMP", "write wait failed: " + ec.message()),
                     true);
            break;
        }
        writeBlocked_ = false;
        flush();
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
            // Records before a bad line still count: their calls are answered.
            for (auto& record : session_.feed(std::string_view(buffer.data(), n))) {
                dispatch(record);
            }
            settleHandshake();
            if (session_.state() == QmpSession::State::Failed) {
                shutdown(makeError(Errc::Disconnected, "QMP", session_.failure().message), true);
                break;
            }
            flush();  // the greeting queued qmp_capabilities
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
    auto calls = std::move(calls_);
    calls_.clear();
    for (auto& [id, call] : calls) call->wakeup.reset();
    if (auto handshake = std::move(handshake_)) handshake->wakeup.reset();
}

void QmpClient::dispatch(QmpRecord& record) {
    if (auto* reply = std::get_if<QmpReply>(&record)) {
        deliver(*reply);
    } else if (auto* event = std::get_if<QmpEvent>(&record)) {
        deliverEvent(*event);
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
    boost::system::error_code ignored;
    socket_.close(ignored);
    writeWake_.cancel();
    deadlineTimer_.cancel();
    armedAt_ = QmpTime::max();
    for (auto& ended : session_.fail(error)) deliver(ended);
    settleHandshake();
    const std::string detail = error.message;
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

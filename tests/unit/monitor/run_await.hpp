// Drives an io_context until an awaitable completes or a condition holds (bounded), for tests
// of the QMP client.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>

namespace corral::test {

template <class T>
T runAwait(boost::asio::io_context& io, boost::asio::awaitable<T> task,
           std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    std::optional<T> out;
    std::exception_ptr failure;
    bool done = false;
    boost::asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
        failure = e;
        if (!e) out.emplace(std::move(value));
        done = true;
    });
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done && std::chrono::steady_clock::now() < deadline) {
        if (io.stopped()) io.restart();
        io.run_one_for(std::chrono::milliseconds(50));
    }
    if (failure) std::rethrow_exception(failure);
    if (!done) throw std::runtime_error("runAwait: task did not finish in time");
    return std::move(*out);
}

// Runs handlers until `done()` holds or `limit` passes; returns whether it holds. For waits on
// something the test cannot await directly (a detached coroutine's result, a peer's progress).
template <class Predicate>
bool runUntil(boost::asio::io_context& io, Predicate done,
              std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
        if (io.stopped()) io.restart();
        io.run_one_for(std::chrono::milliseconds(10));
    }
    return done();
}

// Runs every handler that is ready, without waiting for timers or I/O: afterwards each
// coroutine has gone as far as it can without an outside event.
inline void runReady(boost::asio::io_context& io) {
    if (io.stopped()) io.restart();
    while (io.poll() > 0) {
        if (io.stopped()) io.restart();
    }
}

}  // namespace corral::test

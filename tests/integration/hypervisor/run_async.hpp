// Runs a coroutine to completion on a fresh io_context, bounded: tests stay synchronous to read.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>

namespace corral::test {

// Runs `make(executor)`'s awaitable on `io` for at most `limit`; rethrows its exception.
template <typename Make>
auto runAsync(boost::asio::io_context& io, Make make,
              std::chrono::seconds limit = std::chrono::seconds(120)) {
    auto future = boost::asio::co_spawn(io, make(io.get_executor()), boost::asio::use_future);
    io.restart();
    // Step the loop only until this coroutine is done: a QMP reader keeps `io` busy forever.
    auto deadline = std::chrono::steady_clock::now() + limit;
    auto ready = [&] {
        return future.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
    };
    while (!ready() && std::chrono::steady_clock::now() < deadline) {
        io.run_one_for(std::chrono::milliseconds(100));
    }
    if (!ready()) {
        ADD_FAILURE() << "coroutine did not finish within " << limit.count() << " s";
        io.stop();
        throw std::runtime_error("runAsync timeout");
    }
    return future.get();
}

}  // namespace corral::test

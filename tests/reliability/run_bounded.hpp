// Runs one coroutine on a test's io_context for at most `bound`, so a hung call fails the test
// instead of hanging it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <exception>
#include <optional>

namespace corral::test {

// The coroutine's value, or nullopt if it had not finished after `bound`.
template <class T>
std::optional<T> runBounded(boost::asio::io_context& io, boost::asio::awaitable<T> task,
                            std::chrono::milliseconds bound) {
    std::optional<T> out;
    boost::asio::co_spawn(io, std::move(task), [&out](std::exception_ptr error, T value) {
        if (error) std::rethrow_exception(error);
        out.emplace(std::move(value));
    });
    io.restart();
    auto deadline = std::chrono::steady_clock::now() + bound;
    while (!out && std::chrono::steady_clock::now() < deadline) {
        io.run_one_until(deadline);
    }
    return out;
}

}  // namespace corral::test

// The coroutines one object starts, ended together with it. The owner holds a Lifetime and
// routes every wait of its coroutines through it: guard() for calls to the outside, sleep() for
// pauses, and starts them with spawn() or run(). Destroying the Lifetime wakes every sleep it
// handed out, a coroutine not yet started never starts, and each guarded wait that resumes
// afterwards throws Ended instead of returning into the dead owner; the owner closes
// the channels those calls run on in its destructor, so they resume promptly. No coroutine
// compares a counter to find out whether its object still exists.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "common/signal.hpp"
#include "supervisor/clock.hpp"
#include "supervisor/op_error.hpp"

namespace corral::supervisor {

class Lifetime {
  public:
    // Thrown into a coroutine whose owner is gone; spawn() and run() absorb it. It carries the
    // failure of the call that was awaited, if that call failed on its own.
    struct Ended {
        std::optional<OpError> failure;
    };

    // `report` gets one line for a coroutine that failed with an exception other than Ended.
    Lifetime(boost::asio::any_io_executor executor, Clock& clock,
             std::function<void(const std::string&)> report);
    ~Lifetime();
    Lifetime(const Lifetime&) = delete;
    Lifetime& operator=(const Lifetime&) = delete;

    // Awaits `work`; throws Ended if the owner died meanwhile. `work` itself must not touch the
    // owner after it suspended (it runs on something the owner closes, not on the owner). A
    // failed Outcome travels in Ended: a caller waiting in run() gets the call's own failure
    // (e.g. "monitor closed during the call") rather than the owner's end.
    template <typename T>
    boost::asio::awaitable<T> guard(boost::asio::awaitable<T> work) const {
        return guarded(token_, std::move(work));
    }

    // Sleeps `delay` on the Clock (fake in tests); throws Ended if the owner dies first.
    boost::asio::awaitable<void> sleep(Duration delay) const;
    // The same, ending early when `wake` is emitted.
    boost::asio::awaitable<void> sleep(Duration limit, corral::Signal<>& wake) const;

    // Starts `work`; an exception other than Ended is reported as "<what> failed: <why>".
    void spawn(boost::asio::awaitable<void> work, std::string what) const;

    // Starts `work`; once it is done and its frame is gone, `then` gets its value if the owner
    // still lives (so `then` may destroy the owner).
    template <typename T>
    void spawn(boost::asio::awaitable<T> work, std::string what,
               std::function<void(T)> then) const {
        boost::asio::co_spawn(
            executor_, begun(token_, std::move(work)),
            [token = std::weak_ptr<State>(token_), what = std::move(what), report = report_,
             then = std::move(then)](std::exception_ptr e, T value) {
                if (e) return absorb(e, what, report);
                if (!token.expired()) then(std::move(value));
            });
    }

    // Starts `work` and always answers `done`: with its result; if the owner died first, with the
    // failure of the call it waited for, or else `ended`; with Failed if it threw.
    template <typename T>
    void run(boost::asio::awaitable<Outcome<T>> work, std::function<void(Outcome<T>)> done,
             OpError ended) const {
        boost::asio::co_spawn(executor_, begun(token_, std::move(work)),
                              [done = std::move(done), ended = std::move(ended), report = report_](
                                  std::exception_ptr e, Outcome<T> result) {
                                  if (e) result = failure(e, std::move(ended), report);
                                  done(std::move(result));
                              });
    }

  private:
    struct State;

    // co_spawn starts a coroutine later: by then its owner may be gone, and then its body must
    // not start at all.
    template <typename T>
    static boost::asio::awaitable<T> begun(std::weak_ptr<State> token,
                                           boost::asio::awaitable<T> work) {
        if (token.expired()) throw Ended{};
        if constexpr (std::is_void_v<T>) {
            co_await std::move(work);
        } else {
            T result = co_await std::move(work);
            co_return result;
        }
    }

    template <typename T>
    static boost::asio::awaitable<T> guarded(std::weak_ptr<State> token,
                                             boost::asio::awaitable<T> work) {
        if constexpr (std::is_void_v<T>) {
            co_await std::move(work);
            if (token.expired()) throw Ended{};
        } else {
            T result = co_await std::move(work);
            if (token.expired()) throw Ended{failureOf(result)};
            co_return result;
        }
    }
    template <typename T>
    static std::optional<OpError> failureOf(const Outcome<T>& result) {
        if (result) return std::nullopt;
        return result.error();
    }
    template <typename T>
    static std::optional<OpError> failureOf(const T&) {
        return std::nullopt;
    }
    static boost::asio::awaitable<void> pause(std::weak_ptr<State> token, Clock& clock,
                                              Duration delay, corral::Signal<>* wake);
    // Ended is silent; anything else is reported.
    static void absorb(std::exception_ptr e, const std::string& what,
                       const std::function<void(const std::string&)>& report);
    static OpError failure(std::exception_ptr e, OpError ended,
                           const std::function<void(const std::string&)>& report);

    boost::asio::any_io_executor executor_;
    Clock& clock_;
    std::function<void(const std::string&)> report_;
    std::shared_ptr<State> token_;  // the only strong reference: expires with the owner
};

}  // namespace corral::supervisor

// Lifetime: coroutines that end with their owner, on a fake clock. "Resumes into a dead owner"
// is observed as code after a guarded wait running once the owner is gone.
#include "supervisor/lifetime.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "tests/unit/supervisor/fake_vm.hpp"

namespace corral::supervisor::test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// Coroutine lambdas take parameters, not captures (g++ 12 pitfall, docs/architecture.md).
asio::awaitable<void> sleepThenMark(const Lifetime& life, Duration delay, bool& woke) {
    co_await life.sleep(delay);
    woke = true;
}

// Something outside the owner that a call waits on, answered by the test.
struct Gate {
    explicit Gate(asio::io_context& io) : timer(io, asio::steady_timer::time_point::max()) {}
    asio::awaitable<Status> wait() {
        boost::system::error_code ec;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        co_return answer;
    }
    asio::steady_timer timer;
    Status answer = okStatus();
};

class LifetimeTest : public ::testing::Test {
  protected:
    void settle() {
        io.restart();
        io.poll();
    }
    void advance(Duration by) {
        clock.advance(by);
        settle();
    }

    asio::io_context io;
    FakeClock clock;
    std::vector<std::string> reports;
    std::unique_ptr<Lifetime> life = std::make_unique<Lifetime>(
        io.get_executor(), clock, [this](const std::string& line) { reports.push_back(line); });
};

TEST_F(LifetimeTest, GuardHandsOverTheResultWhileTheOwnerLives) {
    Gate gate(io);
    std::optional<Status> answer;
    life->run<Unit>(
        life->guard(gate.wait()), [&](Status s) { answer = s; },
        OpError{ErrorKind::Failed, "owner gone"});
    settle();
    EXPECT_FALSE(answer);
    gate.timer.cancel();
    settle();
    ASSERT_TRUE(answer);
    EXPECT_TRUE(answer->ok());
}

TEST_F(LifetimeTest, NothingRunsAfterAGuardedWaitOnceTheOwnerIsGone) {
    Gate gate(io);
    bool after = false;
    std::optional<Status> answer;
    auto steps = [](const Lifetime& life, Gate& gate, bool& after) -> asio::awaitable<Status> {
        auto status = co_await life.guard(gate.wait());
        after = true;
        co_return status;
    };
    life->run<Unit>(
        steps(*life, gate, after), [&](Status s) { answer = s; },
        OpError{ErrorKind::Failed, "owner gone"});
    settle();
    life.reset();
    gate.timer.cancel();
    settle();
    EXPECT_FALSE(after);
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->error().message, "owner gone");
    EXPECT_TRUE(reports.empty());
}

TEST_F(LifetimeTest, ACallThatFailedIsAnsweredWithItsOwnErrorAfterTheOwnerIsGone) {
    Gate gate(io);
    gate.answer = OpError{ErrorKind::Failed, "monitor closed during the call"};
    std::optional<Status> answer;
    auto steps = [](const Lifetime& life, Gate& gate) -> asio::awaitable<Status> {
        auto status = co_await life.guard(gate.wait());
        co_return status;
    };
    life->run<Unit>(
        steps(*life, gate), [&](Status s) { answer = s; },
        OpError{ErrorKind::Failed, "owner gone"});
    settle();
    life.reset();
    gate.timer.cancel();
    settle();
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->error().message, "monitor closed during the call");
}

TEST_F(LifetimeTest, ACoroutineWhoseOwnerDiesBeforeItStartsNeverStarts) {
    bool started = false, ran = false;
    auto body = [](bool& started) -> asio::awaitable<Status> {
        started = true;
        co_return okStatus();
    };
    std::optional<Status> answer;
    life->run<Unit>(
        body(started), [&](Status s) { answer = s; }, OpError{ErrorKind::Failed, "owner gone"});
    auto plain = [](bool& ran) -> asio::awaitable<void> {
        ran = true;
        co_return;
    };
    life->spawn(plain(ran), "starting");
    life.reset();  // co_spawn only posted the starts
    settle();
    EXPECT_FALSE(started);
    EXPECT_FALSE(ran);
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->error().message, "owner gone");
}

TEST_F(LifetimeTest, SleepFollowsTheClock) {
    bool woke = false;
    life->spawn(sleepThenMark(*life, 5s, woke), "sleeping");
    settle();
    advance(4900ms);
    EXPECT_FALSE(woke);
    advance(100ms);
    EXPECT_TRUE(woke);
}

TEST_F(LifetimeTest, DestroyingTheLifetimeEndsItsSleepersAtOnce) {
    bool woke = false;
    life->spawn(sleepThenMark(*life, 1h, woke), "sleeping");
    settle();
    ASSERT_EQ(clock.pendingTimers(), 1u);
    life.reset();
    settle();
    EXPECT_FALSE(woke);
    EXPECT_EQ(io.poll(), 0u);  // the coroutine is finished, not parked
    advance(2h);
    EXPECT_FALSE(woke);
    EXPECT_TRUE(reports.empty());
}

TEST_F(LifetimeTest, SleepEndsEarlyWhenWoken) {
    corral::Signal<> wake;
    bool woke = false;
    auto drainer = [](const Lifetime& life, corral::Signal<>& wake,
                      bool& woke) -> asio::awaitable<void> {
        co_await life.sleep(1s, wake);
        woke = true;
    };
    life->spawn(drainer(*life, wake, woke), "draining");
    settle();
    advance(100ms);
    EXPECT_FALSE(woke);
    wake.emit();
    settle();
    EXPECT_TRUE(woke);
    EXPECT_EQ(wake.size(), 0u);  // the sleep no longer listens
}

TEST_F(LifetimeTest, ThenRunsOnlyWhileTheOwnerLivesAndMayEndIt) {
    int got = 0;
    life->spawn<int>([]() -> asio::awaitable<int> { co_return 7; }(), "answering",
                     [&](int value) {
                         got = value;
                         life.reset();  // the owner goes away in its own notice
                     });
    settle();
    EXPECT_EQ(got, 7);
    EXPECT_FALSE(life);
}

TEST_F(LifetimeTest, ExceptionsOtherThanEndedAreReported) {
    std::optional<Status> answer;
    life->run<Unit>(
        []() -> asio::awaitable<Status> {
            throw std::runtime_error("bad state");
            co_return okStatus();
        }(),
        [&](Status s) { answer = s; }, OpError{ErrorKind::Failed, "owner gone"});
    life->spawn(
        []() -> asio::awaitable<void> {
            throw std::runtime_error("worse");
            co_return;
        }(),
        "probing");
    settle();
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->error().message, "bad state");
    EXPECT_EQ(reports, (std::vector<std::string>{"bad state", "probing failed: worse"}));
}

}  // namespace
}  // namespace corral::supervisor::test

// Reattach after a corrald restart: state.json + qemu.pid lead back to our live qemu (pidfd and
// a new QMP connection); a foreign or stale pid is refused.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>

#include "hypervisor/launch.hpp"
#include "tests/integration/hypervisor/run_async.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::hypervisor {
namespace {

using namespace std::chrono_literals;
using boost::asio::any_io_executor;
using boost::asio::awaitable;
using ::testing::HasSubstr;

InstanceSpec pausedSpec() {
    InstanceSpec spec;
    spec.name = "reattach";
    spec.machine.accel = "tcg";
    spec.machine.memoryBytes = 128ull << 20;
    spec.boot = BootSpec{test::guestKernel(), test::guestInitrd(), ""};
    return spec;
}

// Kills and reaps the first qemu by pid however the test ends (it is this process's child).
struct Reaper {
    pid_t pid = -1;
    ~Reaper() {
        if (pid > 0 && ::kill(pid, SIGKILL) == 0) ::waitpid(pid, nullptr, 0);
    }
};

awaitable<std::string> reattachAndQuery(any_io_executor ex, RuntimePaths paths) {
    auto again = co_await reattachInstance(ex, paths);
    if (!again) co_return "error: " + again.error().message;
    auto status = co_await again->qmp->execute("query-status");
    again->qmp->close();
    if (!status) co_return "error: " + status.error().message;
    co_return std::to_string(again->process.pid()) + " " + (*status)["status"].GetString();
}

awaitable<std::string> reattachError(any_io_executor ex, RuntimePaths paths) {
    auto again = co_await reattachInstance(ex, paths);
    if (again) co_return "unexpectedly reattached to " + std::to_string(again->process.pid());
    co_return again.error().kind + ": " + again.error().message;
}

TEST(Reattach, FindsOurQemuAgainAndRefusesOthers) {
    test::TempDir dir;
    boost::asio::io_context io;
    Reaper reaper;
    RuntimePaths paths;
    {
        // "corrald" starts qemu and goes away: nothing here kills qemu on destruction.
        auto launched = launchInstance(io.get_executor(), pausedSpec(), dir / "run");
        reaper.pid = launched.process.pid();
        paths = launched.paths;
        ASSERT_TRUE(test::waitForPath(paths.pidFile, 10s));
    }
    auto found =
        test::runAsync(io, [&](any_io_executor ex) { return reattachAndQuery(ex, paths); });
    EXPECT_EQ(found, std::to_string(reaper.pid) + " prelaunch");

    std::string error;
    auto state = *readState(paths, error);
    auto foreign = test::Process::spawn({"sleep", "30"});
    state.pid = foreign.pid();
    ASSERT_EQ(writeState(paths, state), std::nullopt);
    std::filesystem::remove(paths.pidFile);
    auto refused = test::runAsync(io, [&](any_io_executor ex) { return reattachError(ex, paths); });
    EXPECT_THAT(refused, HasSubstr("NotOurs"));
    EXPECT_THAT(refused, HasSubstr("command line differs"));

    std::ofstream(paths.pidFile) << reaper.pid << "\n";
    auto stale = test::runAsync(io, [&](any_io_executor ex) { return reattachError(ex, paths); });
    EXPECT_THAT(stale, HasSubstr("qemu.pid says"));

    std::filesystem::remove(paths.pidFile);
    state.pid = 0x3ffffff;
    ASSERT_EQ(writeState(paths, state), std::nullopt);
    auto gone = test::runAsync(io, [&](any_io_executor ex) { return reattachError(ex, paths); });
    EXPECT_THAT(gone, HasSubstr("is not running"));

    std::filesystem::remove(paths.stateFile);
    auto missing = test::runAsync(io, [&](any_io_executor ex) { return reattachError(ex, paths); });
    EXPECT_THAT(missing, HasSubstr("cannot open"));
}

}  // namespace
}  // namespace corral::hypervisor

// Reattach after a corrald restart: state.json leads back to our live qemu (pidfd and a new QMP
// connection); a foreign or stale pid is refused.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include "hypervisor/launch.hpp"
#include "monitor/qmp_client.hpp"
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
    spec.machine.accel = Accel::Tcg;
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

// What corrald's reattach does with state.json: adopt the pid only if its command line is the
// saved argv, then talk QMP to it.
awaitable<std::string> adoptAndQuery(any_io_executor ex, RuntimeState state, RuntimePaths paths) {
    std::string why;
    auto process = QemuProcess::adopt(ex, state.pid, state.argv, why);
    if (!process) co_return "error: " + why;
    auto qmp = monitor::QmpClient::create(ex);
    auto connected = co_await qmp->connect(paths.qmpSocket.string(), 10s);
    if (!connected) co_return "error: " + connected.error().message;
    auto status = co_await qmp->execute("query-status");
    qmp->close();
    if (!status) co_return "error: " + status.error().message;
    co_return std::to_string(process->pid()) + " " + (*status)["status"].GetString();
}

std::string adoptError(boost::asio::io_context& io, const RuntimeState& state) {
    std::string why;
    auto process = QemuProcess::adopt(io.get_executor(), state.pid, state.argv, why);
    if (process) return "unexpectedly adopted " + std::to_string(process->pid());
    return why;
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
    std::string error;
    auto state = *readState(paths, error);
    auto found =
        test::runAsync(io, [&](any_io_executor ex) { return adoptAndQuery(ex, state, paths); });
    EXPECT_EQ(found, std::to_string(reaper.pid) + " prelaunch");

    auto foreign = test::Process::spawn({"sleep", "30"});
    auto other = state;
    other.pid = foreign.pid();
    EXPECT_THAT(adoptError(io, other), HasSubstr("command line differs"));

    other.pid = 0x3ffffff;
    EXPECT_THAT(adoptError(io, other), HasSubstr("is not running"));

    std::filesystem::remove(paths.stateFile);
    EXPECT_FALSE(readState(paths, error));
    EXPECT_THAT(error, HasSubstr("cannot open"));
}

}  // namespace
}  // namespace corral::hypervisor

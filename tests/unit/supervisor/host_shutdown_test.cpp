// The host shutdown phase over real Instance state machines, fake VMs and a fake clock: every VM
// gets its ACPI powerdown at once, the phase ends when all have stopped, and the bound kills
// what still runs, naming it.
#include "supervisor/host_shutdown.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <optional>

#include "tests/unit/supervisor/fake_vm.hpp"

namespace corral::supervisor::test {
namespace {

using namespace std::chrono_literals;

bool has(const std::vector<std::string>& lines, const std::string& text) {
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string& l) { return l.find(text) != std::string::npos; });
}

class HostShutdownTest : public ::testing::Test {
  protected:
    HostShutdownTest() {
        for (auto* vm : {&vmA, &vmB}) vm->autoLaunchPid = 100;
        for (auto* i : {&a, &b}) i->start([](Status) {});
    }

    void begin(Duration bound) {
        phase.emplace(std::vector<Instance*>{&a, &b}, clock, bound, sink(),
                      [this](const HostShutdownResult& r) { result = r; });
    }
    LogSink sink() {
        return [this](int, const std::string& line) { logs.push_back(line); };
    }
    std::size_t powerdowns(const FakeVm& vm) const {
        return std::count(vm.commands.begin(), vm.commands.end(), VmCommand::Powerdown);
    }

    FakeClock clock;
    FakeVm vmA, vmB;
    std::vector<std::string> logs;
    Instance a{"a", vmA, clock, LifecyclePolicy{120s, false}, sink()};
    Instance b{"b", vmB, clock, LifecyclePolicy{120s, false}, sink()};
    std::optional<HostShutdown> phase;
    std::optional<HostShutdownResult> result;
};

TEST_F(HostShutdownTest, EveryVmGetsItsPowerdownAtOnceAndThePhaseEndsWhenAllStopped) {
    begin(300s);
    EXPECT_EQ(powerdowns(vmA), 1u);
    EXPECT_EQ(powerdowns(vmB), 1u);
    EXPECT_EQ(a.state(), State::ShuttingDown);
    EXPECT_EQ(b.state(), State::ShuttingDown);
    vmA.exit({true, 0});
    EXPECT_FALSE(result);
    vmB.exit({true, 0});
    ASSERT_TRUE(result);
    EXPECT_EQ(result->stopped, (std::vector<std::string>{"a", "b"}));
    EXPECT_TRUE(result->killed.empty());
    EXPECT_EQ(a.lastExit(), "host-shutdown");
    EXPECT_EQ(b.lastExit(), "host-shutdown");
    EXPECT_TRUE(has(logs, "host shutdown: shutting down 2 VM(s) in parallel (a, b)"));
    EXPECT_TRUE(has(logs, "host shutdown: done"));
}

TEST_F(HostShutdownTest, TheBoundKillsWhatStillRunsAndNamesIt) {
    begin(10s);
    vmA.exit({true, 0});
    clock.advance(10s);
    EXPECT_TRUE(has(logs, "host shutdown: still running after 10 s, killing: b"));
    EXPECT_NE(std::find(vmB.signals.begin(), vmB.signals.end(), SIGKILL), vmB.signals.end());
    EXPECT_FALSE(result);
    vmB.exit({false, SIGKILL});
    ASSERT_TRUE(result);
    EXPECT_EQ(result->stopped, (std::vector<std::string>{"a"}));
    EXPECT_EQ(result->killed, (std::vector<std::string>{"b"}));
    EXPECT_NE(b.state(), State::Crashed);
}

TEST_F(HostShutdownTest, NoRunningVmFinishesAtOnce) {
    a.kill([](Status) {});
    vmA.exit({false, SIGKILL});
    b.kill([](Status) {});
    vmB.exit({false, SIGKILL});
    begin(300s);
    ASSERT_TRUE(result);
    EXPECT_TRUE(result->stopped.empty());
    EXPECT_TRUE(has(logs, "host shutdown: no VM runs"));
}

}  // namespace
}  // namespace corral::supervisor::test

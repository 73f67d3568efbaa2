// The lifecycle state machine driven by a fake VM and a fake clock: every transition and every
// escalation step is checked without qemu and without waiting.
#include "supervisor/instance.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>

#include "tests/unit/supervisor/fake_vm.hpp"

namespace corral::supervisor::test {
namespace {

using namespace std::chrono_literals;

struct Recorder {
    std::vector<Status> results;
    Done done() {
        return [this](Status s) { results.push_back(std::move(s)); };
    }
    bool lastOk() const { return !results.empty() && results.back().ok(); }
};

class InstanceTest : public ::testing::Test {
  protected:
    InstanceTest() {
        vm.autoLaunchPid = 4242;
        subscription = instance.changed().connect([this](unsigned changed) {
            if (changed & kChangedState) states.push_back(instance.state());
        });
    }

    void startRunning() {
        Recorder r;
        instance.start(r.done());
        ASSERT_TRUE(r.lastOk());
        ASSERT_EQ(instance.state(), State::Running);
    }

    FakeClock clock;
    FakeVm vm;
    std::vector<std::string> logs;
    Instance instance{"web1", vm, clock, LifecyclePolicy{30s, false},
                      [this](int, const std::string& line) { logs.push_back(line); }};
    std::vector<State> states;
    Connection subscription;
};

TEST_F(InstanceTest, StartGoesThroughStartingToRunningWithPid) {
    vm.autoLaunchPid.reset();
    Recorder r;
    instance.start(r.done());
    EXPECT_EQ(instance.state(), State::Starting);
    EXPECT_TRUE(r.results.empty());
    vm.finishLaunch(pid_t{77});
    ASSERT_TRUE(r.lastOk());
    EXPECT_EQ(instance.state(), State::Running);
    EXPECT_EQ(instance.pid(), 77);
    EXPECT_NE(instance.startedAtUsec(), 0u);
    EXPECT_EQ(states, (std::vector<State>{State::Starting, State::Running}));
}

TEST_F(InstanceTest, StartFailureStopsWithReason) {
    vm.autoLaunchPid.reset();
    Recorder r;
    instance.start(r.done());
    vm.finishLaunch(OpError{ErrorKind::Failed, "qmp.sock: connection refused"});
    ASSERT_EQ(r.results.size(), 1u);
    EXPECT_FALSE(r.results[0].ok());
    EXPECT_EQ(instance.state(), State::Stopped);
    EXPECT_EQ(instance.lastExit(), "start failed: qmp.sock: connection refused");
}

TEST_F(InstanceTest, ExitDuringStartFailsTheStart) {
    vm.autoLaunchPid.reset();
    Recorder r;
    instance.start(r.done());
    vm.exit({false, 1});
    vm.finishLaunch(OpError{ErrorKind::Failed, "late report"});
    ASSERT_EQ(r.results.size(), 1u);
    EXPECT_FALSE(r.results[0].ok());
    EXPECT_EQ(instance.state(), State::Stopped);
    EXPECT_EQ(instance.lastExit(), "start failed: qemu exited with status 1 during start");
}

TEST_F(InstanceTest, ExitDuringStartCarriesQemusLastLogLine) {
    vm.autoLaunchPid.reset();
    Recorder r;
    instance.start(r.done());
    vm.exit({false, 1, "qemu-system-x86_64: -blockdev x: Could not open '/x': Permission denied"});
    ASSERT_EQ(r.results.size(), 1u);
    ASSERT_FALSE(r.results[0].ok());
    auto why = std::string(
        "qemu exited with status 1 during start (qemu.log: qemu-system-x86_64: "
        "-blockdev x: Could not open '/x': Permission denied)");
    EXPECT_EQ(r.results[0].error().message, instance.name() + ": " + why);
    EXPECT_EQ(instance.lastExit(), "start failed: " + why);
}

TEST_F(InstanceTest, SecondRequestDuringStartIsBusy) {
    vm.autoLaunchPid.reset();
    Recorder first, second;
    instance.start(first.done());
    instance.shutdown(0s, second.done());
    ASSERT_EQ(second.results.size(), 1u);
    EXPECT_EQ(second.results[0].error().kind, ErrorKind::Busy);
    EXPECT_EQ(second.results[0].error().message, "web1 is starting; try again when it is done.");
}

TEST_F(InstanceTest, ShutdownRepeatsPowerdownEveryFiveSeconds) {
    startRunning();
    Recorder r;
    instance.shutdown(0s, r.done());
    EXPECT_EQ(instance.state(), State::ShuttingDown);
    clock.advance(12s);
    auto powerdowns = std::count(vm.commands.begin(), vm.commands.end(), VmCommand::Powerdown);
    EXPECT_EQ(powerdowns, 3);  // at 0, 5 and 10 s
    vm.guestShutdown();
    vm.exit({false, 0});
    ASSERT_TRUE(r.lastOk());
    EXPECT_EQ(instance.state(), State::Stopped);
    EXPECT_EQ(instance.lastExit(), "host-shutdown");
    EXPECT_EQ(instance.pid(), 0);
}

TEST_F(InstanceTest, ShutdownWhileShuttingDownIsBusyWithSentence) {
    startRunning();
    Recorder first, second;
    instance.shutdown(0s, first.done());
    instance.shutdown(0s, second.done());
    ASSERT_EQ(second.results.size(), 1u);
    EXPECT_EQ(second.results[0].error().kind, ErrorKind::Busy);
    EXPECT_EQ(second.results[0].error().message,
              "web1 is shutting down; try again when it is done.");
}

TEST_F(InstanceTest, ShutdownEscalatesToQuitThenTermThenKill) {
    startRunning();
    Recorder r;
    instance.shutdown(10s, r.done());
    clock.advance(10s);
    EXPECT_EQ(vm.commands.back(), VmCommand::Quit);
    EXPECT_TRUE(vm.signals.empty());
    clock.advance(kEscalationGrace);
    EXPECT_EQ(vm.signals, (std::vector<int>{SIGTERM}));
    clock.advance(kEscalationGrace);
    EXPECT_EQ(vm.signals, (std::vector<int>{SIGTERM, SIGKILL}));
    vm.exit({true, SIGKILL});
    ASSERT_TRUE(r.lastOk());
    EXPECT_EQ(instance.state(), State::Stopped);
    EXPECT_EQ(instance.lastExit(),
              "host-shutdown: guest ignored ACPI powerdown, quit and SIGTERM, SIGKILL");
}

TEST_F(InstanceTest, QuitEndsShutdownOfGuestIgnoringAcpi) {
    startRunning();
    Recorder r;
    instance.shutdown(3s, r.done());
    clock.advance(3s);
    vm.exit({false, 0});
    ASSERT_TRUE(r.lastOk());
    EXPECT_EQ(instance.lastExit(), "host-shutdown: guest ignored ACPI powerdown, quit");
}

TEST_F(InstanceTest, ShutdownOfPausedVmResumesItFirst) {
    startRunning();
    Recorder p, r;
    instance.pause(p.done());
    instance.shutdown(0s, r.done());
    ASSERT_GE(vm.commands.size(), 3u);
    EXPECT_EQ(vm.commands[1], VmCommand::Cont);
    EXPECT_EQ(vm.commands[2], VmCommand::Powerdown);
}

TEST_F(InstanceTest, GuestPoweroffStopsWithLastExit) {
    startRunning();
    vm.guestShutdown();
    vm.exit({false, 0});
    EXPECT_EQ(instance.state(), State::Stopped);
    EXPECT_EQ(instance.lastExit(), "guest-poweroff");
}

// An administrator's {"execute": "quit"} through Monitor ends the VM on purpose: a stop, which
// neither counts as a crash nor triggers on_crash = "restart".
TEST_F(InstanceTest, QuitOnTheMonitorIsAStopNotACrash) {
    startRunning();
    vm.monitorQuit();
    vm.exit({false, 0});
    EXPECT_EQ(instance.state(), State::Stopped);
    EXPECT_EQ(instance.lastExit(), "monitor-quit");
}

TEST_F(InstanceTest, ShutdownNobodyAskedForStillEndsAsACrash) {
    startRunning();
    vm.otherShutdown();
    vm.exit({false, 0});
    EXPECT_EQ(instance.state(), State::Crashed);
    EXPECT_EQ(instance.lastExit(), "crashed: exited with status 0");
}

TEST_F(InstanceTest, QuitOfAnEarlierRunIsForgottenAtTheNextStart) {
    startRunning();
    vm.monitorQuit();
    vm.exit({false, 0});
    startRunning();
    vm.exit({true, 9});
    EXPECT_EQ(instance.state(), State::Crashed);
}

TEST_F(InstanceTest, UnexpectedExitIsACrash) {
    startRunning();
    vm.exit({true, 9});
    EXPECT_EQ(instance.state(), State::Crashed);
    EXPECT_EQ(instance.lastExit(), "crashed: killed by signal 9");
    EXPECT_EQ(vm.launches, 1);
    clock.advance(120s);
    EXPECT_EQ(vm.launches, 1);  // on_crash = "stop"
}

TEST_F(InstanceTest, CrashRestartsWithBackoffAndStopsAfterFiveInAMinute) {
    instance.setPolicy(LifecyclePolicy{30s, true});
    startRunning();
    std::vector<Duration> delays = {1s, 2s, 4s, 8s, 16s};
    for (std::size_t i = 0; i < delays.size(); ++i) {
        vm.exit({true, 9});
        ASSERT_EQ(instance.state(), State::Crashed);
        clock.advance(delays[i] - 1ms);
        EXPECT_EQ(vm.launches, static_cast<int>(i + 1)) << "restart " << i << " came early";
        clock.advance(1ms);
        EXPECT_EQ(vm.launches, static_cast<int>(i + 2));
        EXPECT_EQ(instance.state(), State::Running);
    }
    vm.exit({true, 9});
    clock.advance(60s);
    EXPECT_EQ(vm.launches, 6);
    EXPECT_EQ(instance.state(), State::Crashed);
    EXPECT_EQ(instance.lastExit(), "crashed: killed by signal 9 (restart limit reached)");
}

TEST_F(InstanceTest, KillOverridesShutdownInProgress) {
    startRunning();
    Recorder shut, killed;
    instance.shutdown(0s, shut.done());
    instance.kill(killed.done());
    EXPECT_EQ(vm.signals, (std::vector<int>{SIGKILL}));
    vm.exit({true, 9});
    EXPECT_TRUE(shut.lastOk());
    EXPECT_TRUE(killed.lastOk());
    EXPECT_EQ(instance.state(), State::Stopped);
    EXPECT_EQ(instance.lastExit(), "killed");
}

TEST_F(InstanceTest, KillOfStoppedVmIsInvalidState) {
    Recorder r;
    instance.kill(r.done());
    ASSERT_EQ(r.results.size(), 1u);
    EXPECT_EQ(r.results[0].error().kind, ErrorKind::InvalidState);
}

TEST_F(InstanceTest, PauseAndResumeFollowQmpAnswers) {
    startRunning();
    vm.answerCommands = false;
    Recorder p;
    instance.pause(p.done());
    Recorder busy;
    instance.resume(busy.done());
    EXPECT_EQ(busy.results.at(0).error().kind, ErrorKind::Busy);
    vm.pendingCommands.at(0)(okStatus());
    EXPECT_TRUE(p.lastOk());
    EXPECT_EQ(instance.state(), State::Paused);
    Recorder r;
    instance.resume(r.done());
    vm.pendingCommands.at(1)(okStatus());
    EXPECT_TRUE(r.lastOk());
    EXPECT_EQ(instance.state(), State::Running);
}

// One rule for a request whose goal is already reached: it is refused with InvalidState (exit 5
// in corralctl) and a sentence, for every lifecycle verb, and nothing is sent to qemu.
TEST_F(InstanceTest, RequestWhoseGoalIsReachedIsInvalidState) {
    auto refused = [&](void (Instance::*verb)(Done), const std::string& sentence) {
        auto sent = vm.commands.size();
        Recorder r;
        (instance.*verb)(r.done());
        ASSERT_EQ(r.results.size(), 1u) << sentence;
        ASSERT_FALSE(r.results[0].ok()) << sentence;
        EXPECT_EQ(r.results[0].error().kind, ErrorKind::InvalidState) << sentence;
        EXPECT_EQ(r.results[0].error().message, sentence);
        EXPECT_EQ(vm.commands.size(), sent) << sentence;
    };
    refused(&Instance::kill, "web1 is not running (state stopped).");
    Recorder stop;
    instance.shutdown(0s, stop.done());
    EXPECT_EQ(stop.results.at(0).error().kind, ErrorKind::InvalidState);
    startRunning();
    refused(&Instance::start, "web1 is already running.");
    refused(&Instance::resume, "web1 is already running.");
    Recorder p;
    instance.pause(p.done());
    ASSERT_TRUE(p.lastOk());
    ASSERT_EQ(instance.state(), State::Paused);
    refused(&Instance::pause, "web1 is already paused.");
    refused(&Instance::start, "web1 is already paused.");
    EXPECT_EQ(instance.state(), State::Paused);
}

TEST_F(InstanceTest, ResetSendsSystemReset) {
    startRunning();
    Recorder r;
    instance.reset(r.done());
    EXPECT_TRUE(r.lastOk());
    EXPECT_EQ(vm.commands.back(), VmCommand::Reset);
    EXPECT_EQ(instance.state(), State::Running);
}

TEST_F(InstanceTest, RebootShutsDownThenStartsAgain) {
    startRunning();
    Recorder r;
    instance.reboot(r.done());
    EXPECT_EQ(instance.state(), State::ShuttingDown);
    vm.exit({false, 0});
    EXPECT_EQ(vm.launches, 2);
    ASSERT_TRUE(r.lastOk());
    EXPECT_EQ(instance.state(), State::Running);
    EXPECT_EQ(instance.lastExit(), "reboot");
}

TEST_F(InstanceTest, InvalidDefinitionRefusesStart) {
    instance.markInvalid("web1.toml:3:1: error: unknown key");
    Recorder r;
    instance.start(r.done());
    ASSERT_EQ(r.results.size(), 1u);
    EXPECT_EQ(r.results[0].error().kind, ErrorKind::InvalidDefinition);
    EXPECT_EQ(instance.state(), State::Invalid);
    EXPECT_EQ(vm.launches, 0);
}

TEST_F(InstanceTest, AdoptPublishesRunningOrPaused) {
    instance.adopt(999, false, 123);
    EXPECT_EQ(instance.state(), State::Paused);
    EXPECT_EQ(instance.pid(), 999);
    EXPECT_EQ(instance.startedAtUsec(), 123u);
}

TEST_F(InstanceTest, AdoptResumesAShutdownWithWhatIsLeftOfItsTimeout) {
    instance.adopt(999, true, 123, clock.realtimeUsec() + 10'000'000);
    EXPECT_EQ(instance.state(), State::ShuttingDown);
    ASSERT_FALSE(vm.commands.empty());
    EXPECT_EQ(vm.commands.front(), VmCommand::Powerdown);
    clock.advance(9s);
    EXPECT_EQ(std::count(vm.commands.begin(), vm.commands.end(), VmCommand::Quit), 0);
    clock.advance(1s);
    EXPECT_EQ(std::count(vm.commands.begin(), vm.commands.end(), VmCommand::Quit), 1);
}

TEST_F(InstanceTest, AdoptAfterAShutdownDeadlinePassedStillTriesACPIFirst) {
    instance.adopt(999, true, 123, clock.realtimeUsec() - 1);
    EXPECT_EQ(instance.state(), State::ShuttingDown);
    EXPECT_EQ(vm.commands.front(), VmCommand::Powerdown);
    clock.advance(999ms);
    EXPECT_EQ(std::count(vm.commands.begin(), vm.commands.end(), VmCommand::Quit), 0);
    clock.advance(1ms);
    EXPECT_EQ(std::count(vm.commands.begin(), vm.commands.end(), VmCommand::Quit), 1);
}

TEST_F(InstanceTest, AgentConnectionIsAProperty) {
    startRunning();
    unsigned seen = 0;
    auto listener = instance.changed().connect([&](unsigned changed) { seen |= changed; });
    vm.agent(true);
    EXPECT_TRUE(instance.agentConnected());
    EXPECT_TRUE(seen & kChangedAgent);
}

TEST_F(InstanceTest, UseOfStoppedVmSaysStartItFirst) {
    auto error = instance.checkUsable();
    ASSERT_TRUE(error);
    EXPECT_EQ(error->message, "web1 is stopped; start it first.");
}

}  // namespace
}  // namespace corral::supervisor::test

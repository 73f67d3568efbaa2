// The health of a running qemu's QMP connection, against a fake qemu and a fake clock: a
// timed-out command marks the monitor unresponsive until a probe answers, a lost connection is
// retried every 5 s, and the qemu's exit ends all of it.
#include <gtest/gtest.h>

#include <csignal>

#include "tests/unit/supervisor/qemu_vm_harness.hpp"

namespace corral::supervisor::test {
namespace {

using namespace std::chrono_literals;
using MonitorHealth = QemuVmHarness;

const OpError kTimeout{ErrorKind::Timeout, "no reply within 30000 ms"};
const OpError kRefused{ErrorKind::Failed, "connect: refused"};

TEST_F(MonitorHealth, LaunchConnectsAndResumesThePausedQemu) {
    define();
    startRunning();
    EXPECT_EQ(qemu.launches, 1);
    EXPECT_EQ(qemu.commands, std::vector<std::string>{"cont"});
    EXPECT_EQ(life().pid(), 4242);
    EXPECT_EQ(life().monitorState(), MonitorState::Connected);
    EXPECT_EQ(qemu.hotplugsMade, 1);
}

TEST_F(MonitorHealth, MonitorThatNeverAnswersFailsTheStartAndKillsQemu) {
    define();
    qemu.connectResults = {kRefused};
    Answer<Unit> started;
    life().start(started.reply());
    settle();
    EXPECT_TRUE(started.failedWith("connect: refused")) << started.result->error().message;
    EXPECT_EQ(qemu.signals, std::vector<int>{SIGKILL});
    EXPECT_EQ(life().state(), State::Stopped);
    qemu.exit(4242, {hypervisor::ExitStatus::Kind::Signaled, SIGKILL});
    settle();
    EXPECT_EQ(life().state(), State::Stopped);
    EXPECT_EQ(life().lastExit(), "start failed: connect: refused (qemu.log: )");
    EXPECT_FALSE(std::filesystem::exists(paths().stateFile));
}

TEST_F(MonitorHealth, MonitorServedByAnotherProcessFailsTheStartAndIsNeverDriven) {
    define();
    qemu.monitorPeer = 777;  // an orphaned qemu of the same instance still serves qmp.sock
    Answer<Unit> started;
    life().start(started.reply());
    settle();
    ASSERT_TRUE(started.result);
    EXPECT_TRUE(started.failedWith("is served by pid 777, not by vm1's qemu (pid 4242)"))
        << started.result->error().message;
    EXPECT_EQ(qemu.commands, std::vector<std::string>{});  // no cont to the stranger
    EXPECT_EQ(qemu.signals, std::vector<int>{SIGKILL});    // ours is killed
    qemu.exit(4242, {hypervisor::ExitStatus::Kind::Signaled, SIGKILL});
    settle();
    EXPECT_EQ(life().state(), State::Stopped);
}

TEST_F(MonitorHealth, ReconnectRefusesASocketServedByAnotherProcess) {
    define();
    startRunning();
    auto connects = qemu.connects;
    qemu.monitorPeer = 777;
    qemu.dropMonitor();
    runFor(500ms);
    EXPECT_EQ(qemu.connects, connects + 1);
    EXPECT_EQ(life().monitorState(), MonitorState::Disconnected);
    EXPECT_TRUE(logged("is served by pid 777"));
    qemu.monitorPeer.reset();
    runFor(5s);
    EXPECT_EQ(qemu.connects, connects + 2);
    EXPECT_EQ(life().monitorState(), MonitorState::Connected);
}

TEST_F(MonitorHealth, CommandTimeoutMarksUnresponsiveUntilAProbeAnswers) {
    define();
    startRunning();
    qemu.commandResults["stop"] = kTimeout;
    qemu.statusResults = {kTimeout, kTimeout};
    auto queries = qemu.statusQueries;

    Answer<Unit> paused;
    life().pause(paused.reply());
    settle();
    ASSERT_TRUE(paused.result);
    EXPECT_EQ(paused.result->error().kind, ErrorKind::Timeout);
    EXPECT_EQ(life().monitorState(), MonitorState::Unresponsive);
    EXPECT_EQ(qemu.statusQueries, queries + 1);  // the probe asked at once

    runFor(1s);
    EXPECT_EQ(qemu.statusQueries, queries + 2);
    EXPECT_EQ(life().monitorState(), MonitorState::Unresponsive);
    runFor(1s);
    EXPECT_EQ(qemu.statusQueries, queries + 3);
    EXPECT_EQ(life().monitorState(), MonitorState::Connected);
    EXPECT_TRUE(logged("QMP monitor answers again"));
    runFor(10s);
    EXPECT_EQ(qemu.statusQueries, queries + 3);  // the probe ended
}

TEST_F(MonitorHealth, UnresponsiveMonitorStillTakesCommands) {
    define();
    startRunning();
    qemu.commandResults["stop"] = kTimeout;
    qemu.statusResults = {kTimeout};
    Answer<Unit> first;
    life().pause(first.reply());
    settle();
    ASSERT_EQ(life().monitorState(), MonitorState::Unresponsive);
    qemu.commandResults.clear();
    Answer<Unit> second;
    life().pause(second.reply());
    settle();
    ASSERT_TRUE(second.result);
    EXPECT_TRUE(second.result->ok());
    EXPECT_EQ(life().state(), State::Paused);
}

TEST_F(MonitorHealth, LostConnectionIsRetriedEveryFiveSecondsUntilItComesBack) {
    define();
    startRunning();
    qemu.connectResults = {kRefused, kRefused};
    auto connects = qemu.connects;

    qemu.dropMonitor();
    settle();
    // qemu usually closes its monitor because it exits: that gets a moment to show.
    EXPECT_EQ(life().monitorState(), MonitorState::Connected);
    runFor(500ms);
    EXPECT_EQ(life().monitorState(), MonitorState::Disconnected);
    EXPECT_EQ(qemu.connects, connects + 1);
    EXPECT_TRUE(logged("lost the QMP connection while qemu (pid 4242) runs; reconnecting"));
    Answer<Unit> paused;
    life().pause(paused.reply());
    ASSERT_TRUE(paused.result);
    EXPECT_EQ(paused.result->error().kind, ErrorKind::MonitorUnavailable);

    runFor(4900ms);
    EXPECT_EQ(qemu.connects, connects + 1);
    runFor(100ms);
    EXPECT_EQ(qemu.connects, connects + 2);
    EXPECT_EQ(life().monitorState(), MonitorState::Disconnected);
    runFor(5s);
    EXPECT_EQ(qemu.connects, connects + 3);
    EXPECT_EQ(life().monitorState(), MonitorState::Connected);
    EXPECT_EQ(qemu.hotplugsMade, 2);  // the bookkeeping starts over on the new link
    EXPECT_EQ(life().state(), State::Running);
    runFor(30s);
    EXPECT_EQ(qemu.connects, connects + 3);
}

TEST_F(MonitorHealth, ExitDuringTheReconnectGraceEndsTheReconnect) {
    define();
    startRunning();
    auto connects = qemu.connects;
    qemu.dropMonitor();
    qemu.exit(4242, {hypervisor::ExitStatus::Kind::Signaled, 9});
    runFor(30s);
    EXPECT_EQ(qemu.connects, connects);
    EXPECT_EQ(life().state(), State::Crashed);
    EXPECT_EQ(life().monitorState(), MonitorState::None);
    EXPECT_EQ(life().lastExit(), "crashed: killed by signal 9");
}

TEST_F(MonitorHealth, ExitIsReportedWhenTheMonitorClosesNotAtTheDrainLimit) {
    define();
    startRunning();
    qemu.exit(4242);
    runFor(100ms);
    // What qemu said last may still be on its way: the exit waits for the monitor to close.
    EXPECT_EQ(life().state(), State::Running);
    qemu.notice({QmpNotice::Kind::Shutdown, true});
    qemu.dropMonitor();
    settle();
    EXPECT_EQ(life().state(), State::Stopped);
    EXPECT_EQ(life().lastExit(), "guest-poweroff");
    EXPECT_FALSE(std::filesystem::exists(paths().stateFile));
}

TEST_F(MonitorHealth, StopAndResumeEventsMoveThePausedState) {
    define();
    startRunning();
    qemu.notice({QmpNotice::Kind::Stop, false});
    EXPECT_EQ(life().state(), State::Paused);
    qemu.notice({QmpNotice::Kind::Resume, false});
    EXPECT_EQ(life().state(), State::Running);
}

TEST_F(MonitorHealth, AgentIsProbedUntilTheGuestAnswers) {
    define("[agent]\nnegotiator = true\n");
    startRunning();
    EXPECT_EQ(qemu.agentsMade, 1);
    EXPECT_FALSE(life().agentConnected());
    runFor(3s);
    EXPECT_FALSE(life().agentConnected());
    qemu.agentCommands = std::vector<std::string>{"hello"};
    runFor(1s);
    EXPECT_TRUE(life().agentConnected());
    auto calls = qemu.agentCalls;
    runFor(10s);
    EXPECT_EQ(qemu.agentCalls, calls);
}

TEST_F(MonitorHealth, ExitClosesTheAgentAndEndsItsProbe) {
    define("[agent]\nnegotiator = true\n");
    startRunning();
    qemu.exit(4242);
    qemu.dropMonitor();
    settle();
    EXPECT_EQ(qemu.agentsClosed, 1);
    auto calls = qemu.agentCalls;
    runFor(30s);
    EXPECT_EQ(qemu.agentCalls, calls);
    EXPECT_EQ(life().state(), State::Crashed);
}

}  // namespace
}  // namespace corral::supervisor::test

// QemuVm::reattach, as corrald runs it at start, against a fake qemu: what a previous corrald
// left running is adopted with its devices, start time and interrupted operations; what it left
// dead is cleaned up; nothing is ever started or killed.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <fstream>

#include "tests/unit/supervisor/qemu_vm_harness.hpp"

namespace corral::supervisor::test {
namespace {

using namespace std::chrono_literals;
using Reattach = QemuVmHarness;

TEST_F(Reattach, AdoptsALiveQemuWithItsDevicesAndStartTime) {
    define();
    auto left = leaveRunning(5000);
    left.devices.push_back(diskRecord("d1", 6, "/images/d1.img"));
    ASSERT_FALSE(hypervisor::writeState(paths(), left));

    ASSERT_TRUE(reattach());
    EXPECT_EQ(life().state(), State::Running);
    EXPECT_EQ(life().pid(), 5000);
    EXPECT_EQ(life().startedAtUsec(), 123u);
    EXPECT_EQ(life().monitorState(), MonitorState::Connected);
    EXPECT_TRUE(hasDevice("d1"));
    // The hotplug bookkeeping starts from what the previous corrald hotplugged.
    ASSERT_EQ(qemu.restores.size(), 1u);
    ASSERT_EQ(qemu.restores[0].size(), 1u);
    EXPECT_EQ(qemu.restores[0][0].id, "d1");
    EXPECT_EQ(qemu.adopts, 1);
    EXPECT_EQ(qemu.launches, 0);
    EXPECT_TRUE(qemu.commands.empty());
    EXPECT_TRUE(qemu.signals.empty());
}

TEST_F(Reattach, PausedQemuIsAdoptedPaused) {
    define();
    leaveRunning(5000);
    qemu.status = {false, "paused"};
    ASSERT_TRUE(reattach());
    EXPECT_EQ(life().state(), State::Paused);
    EXPECT_TRUE(qemu.commands.empty());
}

TEST_F(Reattach, CompletesAStartThatARestartInterrupted) {
    define();
    leaveRunning(5000);
    qemu.status = {false, "prelaunch"};
    ASSERT_TRUE(reattach());
    EXPECT_EQ(qemu.commands, std::vector<std::string>{"cont"});
    EXPECT_EQ(life().state(), State::Running);
    EXPECT_TRUE(logged("completing a start that a corrald restart interrupted"));
}

TEST_F(Reattach, ResumesAnInterruptedShutdownWithWhatIsLeftOfItsTimeout) {
    define("[lifecycle]\nshutdown_timeout = \"120s\"\n");
    auto left = leaveRunning(5000);
    left.shutdownDeadlineUsec = clock.realtimeUsec() + 20'000'000;
    ASSERT_FALSE(hypervisor::writeState(paths(), left));

    ASSERT_TRUE(reattach());
    EXPECT_EQ(life().state(), State::ShuttingDown);
    EXPECT_EQ(qemu.commands.front(), "system_powerdown");
    EXPECT_TRUE(logged("resuming a shutdown that a corrald restart interrupted (20 s left)"));
    // The deadline stays recorded for the next restart.
    ASSERT_TRUE(stateJson());
    EXPECT_NE(stateJson()->shutdownDeadlineUsec, 0u);

    runFor(19s);
    EXPECT_EQ(std::count(qemu.commands.begin(), qemu.commands.end(), "quit"), 0);
    runFor(2s);
    EXPECT_EQ(std::count(qemu.commands.begin(), qemu.commands.end(), "quit"), 1);
    qemu.exit(5000);
    runFor(1s);
    EXPECT_EQ(life().state(), State::Stopped);
    EXPECT_EQ(life().lastExit(), "host-shutdown: guest ignored ACPI powerdown, quit");
}

TEST_F(Reattach, HotplugRecoveryAdoptsWhatQemuHasAndForgetsWhatItLost) {
    define();
    auto left = leaveRunning(5000);
    left.devices.push_back(diskRecord("gone", 7, "/images/gone.img"));
    ASSERT_FALSE(hypervisor::writeState(paths(), left));
    auto found = diskRecord("found", 8, "");
    qemu.devicesInQemu = {found};
    qemu.recovery.adopted = {"found"};
    qemu.recovery.dropped = {"gone"};
    ASSERT_TRUE(reattach());
    EXPECT_TRUE(hasDevice("found"));
    EXPECT_FALSE(hasDevice("gone"));
    EXPECT_TRUE(recordedHotplugged("found"));
    EXPECT_FALSE(recordedHotplugged("gone"));
}

TEST_F(Reattach, StaleRuntimeDirIsRemoved) {
    define();
    leaveRunning(5000);
    qemu.live.clear();  // it died with the old corrald
    ASSERT_TRUE(reattach());
    EXPECT_FALSE(std::filesystem::exists(paths().dir));
    EXPECT_EQ(life().state(), State::Stopped);
    EXPECT_EQ(qemu.linksMade, 0);
    EXPECT_TRUE(logged("cleaning stale runtime dir"));
    EXPECT_TRUE(qemu.signals.empty());
}

TEST_F(Reattach, NoRuntimeDirMeansNothingToDo) {
    define();
    ASSERT_TRUE(reattach());
    EXPECT_EQ(qemu.adopts, 0);
    EXPECT_EQ(life().state(), State::Stopped);
}

TEST_F(Reattach, QemuWithoutStateJsonIsAdoptedFromItsPidfile) {
    define();
    auto left = leaveRunning(5001);
    std::filesystem::remove(paths().stateFile);
    std::ofstream(paths().pidFile) << "5001\n";

    ASSERT_TRUE(reattach());
    EXPECT_EQ(life().state(), State::Running);
    EXPECT_EQ(life().pid(), 5001);
    EXPECT_TRUE(logged("adopting it and rewriting state.json"));
    auto rewritten = stateJson();
    ASSERT_TRUE(rewritten);
    EXPECT_EQ(rewritten->pid, 5001);
    EXPECT_EQ(rewritten->argv, left.argv);
    EXPECT_TRUE(hasDevice("root"));
}

TEST_F(Reattach, PidfileNamingAnotherProgramIsNotAdopted) {
    define();
    leaveRunning(5001);
    std::filesystem::remove(paths().stateFile);
    std::ofstream(paths().pidFile) << "5001\n";
    qemu.live[5001] = {"/usr/bin/some-daemon"};

    ASSERT_TRUE(reattach());
    EXPECT_EQ(life().state(), State::Stopped);
    EXPECT_FALSE(std::filesystem::exists(paths().dir));
    EXPECT_EQ(qemu.adopts, 0);
}

TEST_F(Reattach, UnansweredMonitorIsReconnectedInTheBackground) {
    define();
    leaveRunning(5000);
    qemu.connectResults = {OpError{ErrorKind::Failed, "connect: refused"},
                           OpError{ErrorKind::Failed, "connect: refused"}};

    ASSERT_TRUE(reattach());
    // Reattach does not wait for the monitor: the VM is adopted, its monitor marked lost.
    EXPECT_EQ(life().state(), State::Running);
    EXPECT_EQ(life().monitorState(), MonitorState::Disconnected);
    Answer<std::string> raw;
    vm->monitor("{\"execute\": \"query-status\"}", raw.reply());
    EXPECT_TRUE(raw.failedWith("corrald keeps reconnecting")) << raw.result->error().message;
    EXPECT_EQ(raw.result->error().kind, ErrorKind::MonitorUnavailable);

    runFor(500ms);  // the exit grace, then the second attempt
    EXPECT_EQ(qemu.connects, 2);
    EXPECT_TRUE(logged("Retrying every 5 s"));
    runFor(4900ms);
    EXPECT_EQ(qemu.connects, 2);
    runFor(100ms);
    EXPECT_EQ(qemu.connects, 3);
    EXPECT_EQ(life().monitorState(), MonitorState::Connected);
    EXPECT_TRUE(logged("QMP connection restored"));
    EXPECT_EQ(qemu.restores.size(), 1u);
}

TEST_F(Reattach, MonitorServedByAnotherProcessIsNotDriven) {
    define();
    leaveRunning(5000);
    qemu.monitorPeer = 777;

    ASSERT_TRUE(reattach());
    EXPECT_EQ(life().state(), State::Running);
    EXPECT_EQ(life().monitorState(), MonitorState::Disconnected);
    EXPECT_TRUE(logged("is served by pid 777, not by vm1's qemu (pid 5000)"));
    EXPECT_TRUE(qemu.commands.empty());
    EXPECT_EQ(qemu.statusQueries, 0);
    qemu.monitorPeer.reset();
    runFor(5500ms);
    EXPECT_EQ(life().monitorState(), MonitorState::Connected);
}

TEST_F(Reattach, QemuThatExitsDuringReattachIsNotAdopted) {
    define();
    leaveRunning(5000);
    qemu.status = {false, "prelaunch"};
    qemu.holdCommands = true;  // "cont" stays unanswered
    bool finished = false, threw = false;
    boost::asio::co_spawn(io, vm->reattach(), [&](std::exception_ptr e) {
        finished = true;
        threw = e != nullptr;
    });
    settle();
    ASSERT_FALSE(finished);
    qemu.exit(5000);
    runFor(1s);  // the monitor stays open: the exit is reported at the drain limit
    EXPECT_TRUE(finished);
    EXPECT_FALSE(threw);
    EXPECT_EQ(life().state(), State::Stopped);
    EXPECT_EQ(life().pid(), 0);
    EXPECT_FALSE(std::filesystem::exists(paths().stateFile));
}

}  // namespace
}  // namespace corral::supervisor::test

// The VNC password and Screenshot on a fake qemu: set_password goes over QMP before the vCPUs
// run, on every new qemu (a start, a restart after a crash, a start a corrald restart
// interrupted), never to a qemu a restarted corrald adopts running.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>

#include "tests/unit/supervisor/qemu_vm_harness.hpp"

namespace corral::supervisor::test {
namespace {

using namespace std::chrono_literals;

const std::string kSetPassword =
    R"({"execute":"set_password","arguments":{"protocol":"vnc","password":"s3cret"}})";

class DisplayHarness : public QemuVmHarness {
  protected:
    std::string passwordFile(mode_t mode = 0600) {
        auto file = dir / "vnc.pass";
        std::ofstream(file, std::ios::trunc) << "s3cret\n";
        ::chmod(file.c_str(), mode);
        return file.string();
    }
    void defineVnc(const std::string& extra = "") {
        define(extra + "[display]\ntype = \"vnc\"\npassword_file = \"" + passwordFile() + "\"\n");
    }
    long passwordsSet() const {
        return std::count(qemu.commands.begin(), qemu.commands.end(), kSetPassword);
    }
};

TEST_F(DisplayHarness, PasswordIsSetBeforeTheVcpusRun) {
    defineVnc();
    startRunning();
    EXPECT_EQ(qemu.commands, (std::vector<std::string>{kSetPassword, "cont"}));
}

TEST_F(DisplayHarness, NoPasswordNoSetPassword) {
    define("[display]\ntype = \"vnc\"\n");
    startRunning();
    EXPECT_EQ(qemu.commands, std::vector<std::string>{"cont"});
}

TEST_F(DisplayHarness, AQemuRestartedAfterACrashGetsThePasswordAgain) {
    defineVnc("[lifecycle]\non_crash = \"restart\"\n");
    startRunning();
    qemu.exit(4242, {hypervisor::ExitStatus::Kind::Signaled, 9});
    settle();
    runFor(2s);
    ASSERT_EQ(qemu.launches, 2);
    EXPECT_EQ(life().state(), State::Running);
    EXPECT_EQ(passwordsSet(), 2);
}

TEST_F(DisplayHarness, AnAdoptedRunningQemuKeepsItsPassword) {
    defineVnc();
    leaveRunning(5000);
    ASSERT_TRUE(reattach());
    EXPECT_EQ(life().state(), State::Running);
    EXPECT_EQ(passwordsSet(), 0);
}

TEST_F(DisplayHarness, AStartARestartInterruptedSetsThePasswordBeforeCont) {
    defineVnc();
    leaveRunning(5000);
    qemu.status = {false, "prelaunch"};
    ASSERT_TRUE(reattach());
    EXPECT_EQ(qemu.commands, (std::vector<std::string>{kSetPassword, "cont"}));
}

TEST_F(DisplayHarness, APasswordFileOthersCanReadFailsTheStartAndKillsQemu) {
    defineVnc();
    passwordFile(0644);  // after the definition was loaded
    Answer<Unit> started;
    life().start(started.reply());
    settle();
    EXPECT_TRUE(started.failedWith("vnc.pass must be readable by root only")) << logs.size();
    EXPECT_EQ(std::count(qemu.signals.begin(), qemu.signals.end(), 9), 1);
    EXPECT_EQ(std::count(qemu.commands.begin(), qemu.commands.end(), "cont"), 0);
}

// A confined qemu cannot create the file: the PNG goes to an fd corrald lends it (add-fd), never
// to a path qemu would open. The fake link carries no fds, so the call fails with a sentence;
// display_guest_tests take real screenshots.
TEST_F(DisplayHarness, ScreenshotNeverAsksQemuToOpenAPath) {
    defineVnc();
    Answer<Unit> notRunning;
    vm->screenshot("/tmp/x.png", notRunning.reply());
    EXPECT_TRUE(notRunning.failedWith("vm1 is not running"));
    startRunning();
    Answer<Unit> shot;
    vm->screenshot("/tmp/x.png", shot.reply());
    settle();
    ASSERT_TRUE(shot.result && !shot.result->ok());
    EXPECT_TRUE(shot.failedWith("cannot pass file descriptors"));
    for (const auto& command : qemu.commands)
        EXPECT_EQ(command.find("screendump"), std::string::npos) << command;
}

TEST_F(DisplayHarness, ScreenshotWithoutVgaIsAnInvalidState) {
    define();
    startRunning();
    Answer<Unit> shot;
    vm->screenshot("/tmp/x.png", shot.reply());
    settle();
    ASSERT_TRUE(shot.result && !shot.result->ok());
    EXPECT_EQ(shot.result->error().kind, ErrorKind::InvalidState);
    EXPECT_TRUE(shot.failedWith("vm1 has no VGA device"));
    EXPECT_EQ(qemu.commands, std::vector<std::string>{"cont"});
}

}  // namespace
}  // namespace corral::supervisor::test

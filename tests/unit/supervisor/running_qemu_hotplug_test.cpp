// Hotplug bookkeeping of a running qemu against a fake qemu: every device QEMU has is in
// state.json (or taken out again, and the caller told so), and an attach whose qemu goes away
// answers without recording anything.
#include <gtest/gtest.h>

#include "tests/unit/supervisor/qemu_vm_harness.hpp"

namespace corral::supervisor::test {
namespace {

using namespace std::chrono_literals;
class HotplugRecord : public QemuVmHarness {
  protected:
    void SetUp() override {
        define();
        startRunning();
    }
    // AttachDisk of d1, as far as it gets without the clock moving.
    Answer<std::string> attachD1() {
        Answer<std::string> attached;
        vm->attachDevice(diskRecord("d1", 0, "/images/d1.img"), attached.reply());
        settle();
        return attached;
    }
};

// state.json becomes a directory that rename() cannot replace, even for root.
void breakStateJson(const hypervisor::RuntimePaths& paths) {
    std::filesystem::remove(paths.stateFile);
    std::filesystem::create_directories(paths.stateFile / "in-the-way");
}

TEST_F(HotplugRecord, AttachIsRecordedInStateJsonAndDevices) {
    auto attached = attachD1();
    ASSERT_TRUE(attached.result && attached.result->ok()) << attached.result->error().message;
    EXPECT_EQ(attached.result->value(), "pci.0:05.0");
    EXPECT_TRUE(hasDevice("d1"));
    EXPECT_TRUE(recordedHotplugged("d1"));
    EXPECT_EQ(qemu.attached, std::vector<std::string>{"d1"});
}

TEST_F(HotplugRecord, UnwritableStateJsonRollsTheDeviceBack) {
    breakStateJson(paths());
    auto attached = attachD1();
    ASSERT_TRUE(attached.result);
    EXPECT_TRUE(attached.failedWith("disk d1 not attached: cannot write"))
        << attached.result->error().message;
    EXPECT_TRUE(attached.failedWith("(rolled back from pci.0:05.0)"));
    EXPECT_EQ(qemu.detached, std::vector<std::string>{"d1"});
    EXPECT_FALSE(hasDevice("d1"));
    EXPECT_TRUE(qemu.devicesInQemu.empty());
}

TEST_F(HotplugRecord, FailedRollbackKeepsTheDeviceListedForARetriedDetach) {
    breakStateJson(paths());
    qemu.detachResults = {Error{Errc::UnplugFailed, "device_del n1: guest refused"}};
    Answer<std::string> attached;
    hypervisor::Device nic;
    nic.id = "n1";
    nic.kind = hypervisor::findKind("nic");
    vm->attachDevice(std::move(nic), attached.reply());
    settle();
    ASSERT_TRUE(attached.result);
    EXPECT_TRUE(attached.failedWith("nic n1 attached at pci.0:05.0 but not recorded: cannot write"))
        << attached.result->error().message;
    EXPECT_TRUE(attached.failedWith("rollback failed: device_del n1: guest refused"));
    EXPECT_TRUE(hasDevice("n1"));
}

TEST_F(HotplugRecord, DetachForgetsTheDevice) {
    auto attached = attachD1();
    Answer<Unit> detached;
    vm->detach("d1", detached.reply());
    settle();
    ASSERT_TRUE(detached.result && detached.result->ok());
    EXPECT_FALSE(hasDevice("d1"));
    EXPECT_FALSE(recordedHotplugged("d1"));
}

TEST_F(HotplugRecord, AttachThatQemuAnsweredJustBeforeItExitedRecordsNothing) {
    qemu.holdCommands = true;
    qemu.answerInFlight = true;
    auto attached = attachD1();
    ASSERT_FALSE(attached.result);
    qemu.exit(4242);
    runFor(1s);
    EXPECT_TRUE(attached.failedWith("vm1: qemu exited during the hotplug; nothing was recorded"))
        << (attached.result ? attached.result->error().message : "no answer");
    EXPECT_FALSE(hasDevice("d1"));
    EXPECT_EQ(life().state(), State::Crashed);
}

TEST_F(HotplugRecord, AttachFailingAsQemuExitsAnswersWithItsOwnError) {
    qemu.holdCommands = true;
    auto attached = attachD1();
    qemu.exit(4242);
    runFor(1s);  // the RunningQemu ends, and with it the link the attach waits on
    EXPECT_TRUE(attached.failedWith("monitor closed during the call"))
        << (attached.result ? attached.result->error().message : "no answer");
    EXPECT_FALSE(hasDevice("d1"));
}

TEST_F(HotplugRecord, MonitorClosedDuringAnAttachFailsIt) {
    qemu.holdCommands = true;
    auto attached = attachD1();
    qemu.dropMonitor();
    settle();
    EXPECT_TRUE(attached.failedWith("monitor closed during the call"));
    EXPECT_FALSE(hasDevice("d1"));
}

TEST_F(HotplugRecord, ReconnectRestoresTheHotpluggedDevices) {
    auto attached = attachD1();
    qemu.dropMonitor();
    runFor(500ms);
    ASSERT_EQ(life().monitorState(), MonitorState::Connected);
    ASSERT_EQ(qemu.restores.size(), 2u);
    ASSERT_EQ(qemu.restores[1].size(), 1u);
    EXPECT_EQ(qemu.restores[1][0].id, "d1");
    EXPECT_EQ(qemu.restores[1][0].backend, "/images/d1.img");
}

}  // namespace
}  // namespace corral::supervisor::test

// What a corrald restart finds of a managed save or restore that the previous corrald left
// unfinished (QemuVm::settleSave, after reattach), on a fake qemu.
#include <fstream>

#include "supervisor/managed_save.hpp"
#include "tests/unit/supervisor/qemu_vm_harness.hpp"

namespace corral::supervisor::test {
namespace {

namespace fs = std::filesystem;

class SettleSave : public QemuVmHarness {
  protected:
    void writeFile(const fs::path& file, bool running) {
        fs::create_directories(file.parent_path());
        SavedHeader header;
        header.running = running;
        std::ofstream(file) << savedHeaderText(header) << "QEVM";
    }
    fs::path saved() const { return savedStatePath(context.stateRoot, "vm1"); }
    fs::path saving() const { return savingStatePath(context.stateRoot, "vm1"); }
    bool sent(const std::string& command) const {
        return std::find(qemu.commands.begin(), qemu.commands.end(), command) !=
               qemu.commands.end();
    }
};

TEST_F(SettleSave, AStreamCutByTheRestartIsDroppedAndTheGuestResumes) {
    define();
    leaveRunning(5000);
    qemu.status = {false, "postmigrate"};
    writeFile(saving(), true);
    ASSERT_TRUE(reattach());
    settle();
    EXPECT_FALSE(fs::exists(saving()));
    EXPECT_FALSE(fs::exists(saved()));
    EXPECT_TRUE(sent("cont"));
    EXPECT_TRUE(logged("a save that a corrald restart interrupted was abandoned"));
}

TEST_F(SettleSave, AGuestPausedBeforeTheSaveStaysPaused) {
    define();
    leaveRunning(5000);
    qemu.status = {false, "postmigrate"};
    writeFile(saving(), false);
    ASSERT_TRUE(reattach());
    settle();
    EXPECT_FALSE(fs::exists(saving()));
    EXPECT_FALSE(sent("cont"));
    EXPECT_EQ(life().state(), State::Paused);
}

TEST_F(SettleSave, ASaveThatCompletedIsFinishedByStoppingQemu) {
    define();
    leaveRunning(5000);
    qemu.status = {false, "postmigrate"};
    writeFile(saved(), true);
    ASSERT_TRUE(reattach());
    settle();
    EXPECT_TRUE(sent("quit"));
    EXPECT_TRUE(fs::exists(saved()));
    qemu.exit(5000);
    runFor(std::chrono::seconds(2));  // the exit waits a moment for QMP's last words
    EXPECT_EQ(life().state(), State::Stopped);
    EXPECT_EQ(life().lastExit(), "saved");
}

TEST_F(SettleSave, AnInterruptedRestoreIsKilledAndTheFileKept) {
    define();
    auto state = leaveRunning(5000);
    state.argv.push_back("-incoming");
    state.argv.push_back("defer");
    ASSERT_FALSE(hypervisor::writeState(paths(), state));
    qemu.live[5000] = state.argv;
    qemu.status = {false, "inmigrate"};
    writeFile(saved(), true);
    ASSERT_TRUE(reattach());
    settle();
    EXPECT_FALSE(qemu.signals.empty());
    EXPECT_EQ(qemu.signals.back(), SIGKILL);
    EXPECT_TRUE(fs::exists(saved()));
}

TEST_F(SettleSave, AFileNextToAGuestThatRunsIsStaleAndRemoved) {
    define();
    leaveRunning(5000);
    writeFile(saved(), true);
    ASSERT_TRUE(reattach());
    settle();
    EXPECT_EQ(life().state(), State::Running);
    EXPECT_FALSE(fs::exists(saved()));
    EXPECT_TRUE(qemu.signals.empty());
}

}  // namespace
}  // namespace corral::supervisor::test

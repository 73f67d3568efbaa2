// Start under corrald without waiting for the guests: an instance with [security] confine =
// false runs as root without -runas and corrald says so loudly, next to a confined one; a disk
// corrald cannot open fails Start with its path and errno before any qemu is spawned.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "tests/integration/supervisor/corrald_fixture.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;

std::string cmdline(pid_t pid) {
    auto text = readFile("/proc/" + std::to_string(pid) + "/cmdline");
    for (auto& c : text)
        if (c == '\0') c = ' ';
    return text;
}

std::string uidLine(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("Uid:", 0) == 0) return line;
    return "";
}

class ConfineStart : public CorraldFixture {
  protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "confinement needs corrald to run as root";
    }
    void append(const std::string& name, const std::string& text) {
        std::ofstream(dir_ / "instances" / (name + ".toml"), std::ios::app) << text;
    }
};

TEST_F(ConfineStart, ConfineFalseRunsWithoutRunasAndIsLoggedAtEachStart) {
    writeGuest("plain1");
    writeGuest("open1");
    append("open1", "\n[security]\nconfine = false\n[tpm]\ntype = \"tpm2\"\n");
    startCorrald();
    ASSERT_EQ(call("plain1", "Start").status, 0) << corraldLog();
    ASSERT_EQ(call("open1", "Start").status, 0) << corraldLog();
    pid_t confined = pid("plain1"), open = pid("open1");
    ASSERT_GT(confined, 0);
    ASSERT_GT(open, 0);
    EXPECT_NE(cmdline(confined).find(" -runas "), std::string::npos) << cmdline(confined);
    auto openArgv = cmdline(open);
    for (const char* option : {" -runas ", " -sandbox ", " -chroot "})
        EXPECT_EQ(openArgv.find(option), std::string::npos) << option << " in " << openArgv;
    EXPECT_EQ(uidLine(open), "Uid:\t0\t0\t0\t0");
    EXPECT_NE(uidLine(confined), "Uid:\t0\t0\t0\t0");
    auto state = readFile(dir_ / "run" / "open1" / "state.json");
    EXPECT_EQ(state.find("-runas"), std::string::npos) << state;
    // Its swtpm as before confinement: root's, its files named by path.
    pid_t swtpm = std::atoi(readFile(dir_ / "run" / "open1" / "swtpm.pid").c_str());
    ASSERT_GT(swtpm, 0) << corraldLog();
    EXPECT_EQ(uidLine(swtpm), "Uid:\t0\t0\t0\t0");
    EXPECT_EQ(cmdline(swtpm).find("--runas"), std::string::npos) << cmdline(swtpm);
    EXPECT_NE(cmdline(swtpm).find("dir=" + (dir_ / "state" / "open1" / "tpm").string()),
              std::string::npos)
        << cmdline(swtpm);

    const std::string line =
        "open1: UNCONFINED: qemu starts without confinement (its definition sets [security] "
        "confine = false)";
    auto log = corraldLog();
    EXPECT_NE(log.find(line), std::string::npos) << log;
    EXPECT_EQ(log.find("plain1: UNCONFINED"), std::string::npos) << log;
    auto qemuLog = readFile(dir_ / "log" / "open1" / "qemu.log");
    EXPECT_NE(qemuLog.find("corrald: " + line), std::string::npos) << qemuLog;

    // Each start says it again.
    ASSERT_EQ(call("open1", "Kill").status, 0);
    ASSERT_TRUE(waitProperty("open1", "State", "s \"stopped\"", 20s)) << corraldLog();
    ASSERT_EQ(call("open1", "Start").status, 0) << corraldLog();
    log = corraldLog();
    EXPECT_NE(log.find(line, log.find(line) + 1), std::string::npos) << log;
    EXPECT_EQ(call("open1", "Kill").status, 0);
    EXPECT_EQ(call("plain1", "Kill").status, 0);
}

TEST_F(ConfineStart, ADiskCorraldCannotOpenFailsStartBeforeQemuIsSpawned) {
    // qemu through a wrapper that notes each spawn.
    auto spawns = dir_ / "spawns";
    auto wrapper = dir_ / "qemu-wrapper";
    std::ofstream(wrapper) << "#!/bin/sh\necho \"$$\" >> " << spawns.string()
                           << "\nexec qemu-system-x86_64 \"$@\"\n";
    ::chmod(wrapper.c_str(), 0755);
    extraConfig_ = "[qemu]\nbinary = \"" + wrapper.string() + "\"\n";
    writeGuest("disk1");
    auto image = dir_ / "d1.img";
    std::ofstream(image) << std::string(1 << 20, 'x');
    append("disk1",
           "\n[[disk]]\nid = \"d1\"\nformat = \"raw\"\npath = \"" + image.string() + "\"\n");
    startCorrald();

    std::filesystem::remove(image);
    auto missing = call("disk1", "Start");
    EXPECT_NE(missing.status, 0);
    EXPECT_NE(missing.output.find("disk 'd1': " + image.string() + ": No such file or directory"),
              std::string::npos)
        << missing.output;
    std::filesystem::create_directory(image);
    auto directory = call("disk1", "Start");
    EXPECT_NE(directory.status, 0);
    EXPECT_NE(directory.output.find("disk 'd1': " + image.string() + ": Is a directory"),
              std::string::npos)
        << directory.output;
    EXPECT_EQ(property("disk1", "State"), "s \"stopped\"") << corraldLog();
    EXPECT_EQ(pid("disk1"), 0);
    EXPECT_FALSE(std::filesystem::exists(spawns)) << "qemu was spawned: " << readFile(spawns);

    // The same VM with its disk back starts, through the wrapper: the check above can fail.
    std::filesystem::remove(image);
    std::ofstream(image) << std::string(1 << 20, 'x');
    ASSERT_EQ(call("disk1", "Start").status, 0) << corraldLog();
    EXPECT_GT(pid("disk1"), 0);
    EXPECT_EQ(readFile(spawns), std::to_string(pid("disk1")) + "\n");
    EXPECT_EQ(call("disk1", "Kill").status, 0);
}

}  // namespace
}  // namespace corral::test

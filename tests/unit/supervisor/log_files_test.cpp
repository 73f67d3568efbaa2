// The log files of a VM: rotation within its bound on a temporary directory, corrald's lines in
// qemu.log, qemu's last reason read past them, and the console log on the serial chardev.
#include "supervisor/log_files.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "hypervisor/instance_spec.hpp"
#include "hypervisor/log_paths.hpp"
#include "hypervisor/qemu_argv.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::supervisor {
namespace {

std::string read(const std::filesystem::path& file) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

void write(const std::filesystem::path& file, const std::string& text) {
    std::ofstream(file, std::ios::app) << text;
}

class LogFilesTest : public ::testing::Test {
  protected:
    std::filesystem::path log() const { return dir_ / "console.log"; }
    std::filesystem::path rotated(unsigned n) const {
        return dir_ / ("console.log." + std::to_string(n));
    }
    test::TempDir dir_;
};

TEST_F(LogFilesTest, BelowTheBoundNothingMoves) {
    write(log(), std::string(4095, 'a'));
    Rotation done;
    EXPECT_EQ(rotateLog(log(), {4096, 3}, done), std::nullopt);
    EXPECT_FALSE(done.rotated);
    EXPECT_EQ(std::filesystem::file_size(log()), 4095u);
    EXPECT_FALSE(std::filesystem::exists(rotated(1)));
}

TEST_F(LogFilesTest, AMissingFileIsNoError) {
    Rotation done;
    EXPECT_EQ(rotateLog(log(), {4096, 3}, done), std::nullopt);
    EXPECT_FALSE(done.rotated);
}

TEST_F(LogFilesTest, ShiftsAndKeepsOnlyTheNewestFiles) {
    LogBound bound{4096, 3};
    for (char c : std::string("abcde")) {
        write(log(), std::string(4096, c));
        Rotation done;
        ASSERT_EQ(rotateLog(log(), bound, done), std::nullopt);
        EXPECT_TRUE(done.rotated);
        EXPECT_EQ(done.droppedBytes, 0u);
        EXPECT_EQ(std::filesystem::file_size(log()), 0u);
    }
    EXPECT_EQ(read(rotated(1)), std::string(4096, 'e'));
    EXPECT_EQ(read(rotated(2)), std::string(4096, 'd'));
    EXPECT_EQ(read(rotated(3)), std::string(4096, 'c'));
    EXPECT_FALSE(std::filesystem::exists(rotated(4)));
    EXPECT_FALSE(std::filesystem::exists(dir_ / "console.log.rotating"));
}

TEST_F(LogFilesTest, AFileGrownPastTheBoundKeepsItsNewestBytes) {
    write(log(), std::string(1000, 'o') + std::string(4096, 'n'));
    Rotation done;
    ASSERT_EQ(rotateLog(log(), {4096, 2}, done), std::nullopt);
    EXPECT_EQ(done.droppedBytes, 1000u);
    EXPECT_EQ(read(rotated(1)), std::string(4096, 'n'));
}

// A writer with O_APPEND (qemu's chardev logfile with logappend=on, its stdout) goes on at the
// start of the truncated file, not at its old offset (which would leave a hole of zeros).
TEST_F(LogFilesTest, AnAppendingWriterContinuesAtTheStartOfTheTruncatedFile) {
    int fd = ::open(log().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    std::string old(5000, 'x');
    ASSERT_EQ(::write(fd, old.data(), old.size()), static_cast<ssize_t>(old.size()));
    Rotation done;
    ASSERT_EQ(rotateLog(log(), {4096, 2}, done), std::nullopt);
    ASSERT_EQ(::write(fd, "after\n", 6), 6);
    ::close(fd);
    EXPECT_EQ(read(log()), "after\n");
}

TEST_F(LogFilesTest, RotatedCopiesKeepModeAndGroup) {
    write(log(), std::string(4096, 'm'));
    ASSERT_EQ(::chmod(log().c_str(), 0640), 0);
    Rotation done;
    ASSERT_EQ(rotateLog(log(), {4096, 2}, done), std::nullopt);
    struct stat original {
    }, copy{};
    ASSERT_EQ(::stat(log().c_str(), &original), 0);
    ASSERT_EQ(::stat(rotated(1).c_str(), &copy), 0);
    EXPECT_EQ(copy.st_mode & 07777, 0640u);
    EXPECT_EQ(copy.st_gid, original.st_gid);
}

TEST_F(LogFilesTest, AFailureNamesTheFileAndLeavesItAlone) {
    write(log(), std::string(4096, 'f'));
    std::filesystem::create_directory(dir_ / "console.log.rotating");  // the temporary's place
    Rotation done;
    auto error = rotateLog(log(), {4096, 2}, done);
    ASSERT_TRUE(error);
    EXPECT_NE(error->find("console.log.rotating"), std::string::npos) << *error;
    EXPECT_FALSE(done.rotated);
    EXPECT_EQ(std::filesystem::file_size(log()), 4096u);
}

TEST_F(LogFilesTest, CorraldLinesCarryTheTimeAndAreSkippedForQemusReason) {
    auto qemuLog = dir_ / "qemu.log";
    write(qemuLog, "");
    ASSERT_EQ(appendCorraldLine(qemuLog, "starting qemu (start)"), std::nullopt);
    write(qemuLog,
          "2026-01-01T00:00:01.000000Z qemu-system-x86_64: -blockdev x: Could not open 'x'\n");
    ASSERT_EQ(appendCorraldLine(qemuLog, "LastExit: start failed"), std::nullopt);
    auto text = read(qemuLog);
    // "YYYY-MM-DDTHH:MM:SS.uuuuuuZ corrald: ", as qemu's -msg timestamp=on writes its own lines.
    ASSERT_GE(text.size(), 28u);
    EXPECT_EQ(text[4], '-');
    EXPECT_EQ(text[10], 'T');
    EXPECT_EQ(text.substr(26, 11), "Z corrald: ");
    EXPECT_EQ(lastQemuLine(qemuLog), "qemu-system-x86_64: -blockdev x: Could not open 'x'");
}

TEST_F(LogFilesTest, OnlyLinesAfterCorraldsLastStartGiveTheReason) {
    auto qemuLog = dir_ / "qemu.log";
    write(qemuLog, "qemu-system-x86_64: old failure\n");
    ASSERT_EQ(appendCorraldLine(qemuLog, "starting qemu (start)"), std::nullopt);
    EXPECT_EQ(lastQemuLine(qemuLog), "");
    write(qemuLog, "qemu-system-x86_64: terminating on signal 15\n");
    EXPECT_EQ(lastQemuLine(qemuLog), "qemu-system-x86_64: terminating on signal 15");
    EXPECT_EQ(lastQemuLine(dir_ / "missing.log"), "");
}

TEST_F(LogFilesTest, LogsArePlacedPerInstanceAndCreatedShared) {
    auto paths = hypervisor::RuntimePaths::forInstance(dir_ / "run", "vm1");
    hypervisor::placeLogs(paths, dir_ / "log", "vm1");
    EXPECT_EQ(paths.logFile, dir_ / "log" / "vm1" / "qemu.log");
    EXPECT_EQ(paths.consoleLog, dir_ / "log" / "vm1" / "console.log");
    EXPECT_THROW(hypervisor::placeLogs(paths, dir_ / "log", "../x"), std::invalid_argument);
    write(dir_ / "keep", "");
    hypervisor::createLogFiles(paths);
    write(paths.consoleLog, "boot\n");
    hypervisor::createLogFiles(paths);  // a second start keeps what is there
    EXPECT_EQ(read(paths.consoleLog), "boot\n");
    struct stat dir {
    }, file{};
    ASSERT_EQ(::stat((dir_ / "log" / "vm1").c_str(), &dir), 0);
    ASSERT_EQ(::stat(paths.logFile.c_str(), &file), 0);
    EXPECT_EQ(dir.st_mode & 07777, 0750u);
    EXPECT_EQ(file.st_mode & 07777, 0640u);
}

TEST(ConsoleLogArgv, TheSerialChardevAppendsToTheConsoleLog) {
    hypervisor::InstanceSpec spec;
    spec.name = "vm1";
    spec.machine.accel = hypervisor::Accel::Tcg;
    spec.machine.memoryBytes = 64ull << 20;
    auto paths = hypervisor::RuntimePaths::forInstance("/run/corral", "vm1");
    auto plan = hypervisor::planSlots(spec);
    auto without = hypervisor::buildQemuArgv(spec, plan, paths);
    EXPECT_NE(std::find(without.begin(), without.end(),
                        "socket,id=corral-serial,path=/run/corral/vm1/serial.sock,server=on,"
                        "wait=off"),
              without.end());
    hypervisor::placeLogs(paths, "/var/log/co,rral", "vm1");
    auto with = hypervisor::buildQemuArgv(spec, plan, paths);
    EXPECT_NE(std::find(with.begin(), with.end(),
                        "socket,id=corral-serial,path=/run/corral/vm1/serial.sock,server=on,"
                        "wait=off,logfile=/var/log/co,,rral/vm1/console.log,logappend=on"),
              with.end());
}

}  // namespace
}  // namespace corral::supervisor

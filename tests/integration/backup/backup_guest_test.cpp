// Backup, ListBackups and CancelBackup against a real guest under TCG with a qcow2 disk: a full
// backup, 1 MiB changed by the guest, an incremental one holding about that 1 MiB only, and
// full + incremental restored by qemu-img convert into a disk identical to the source; bad input
// changes nothing; corrald SIGKILLed in the middle of a (slowed) backup ends the job at its next
// start and the next incremental still covers every write.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "monitor/json.hpp"
#include "tests/integration/supervisor/corrald_fixture.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr std::uint64_t kMiB = 1ull << 20;

class BackupGuest : public CorraldFixture {
  protected:
    fs::path source() const { return dir_ / "data.qcow2"; }
    fs::path target() const { return dir_ / "backups"; }
    // A guest with disk "data" (vda, qcow2, 64 MiB) and a raw disk "scratch" (vdb).
    void writeBackupGuest() {
        ASSERT_EQ(qemuImg({"create", "-q", "-f", "qcow2", source().string(), "64M"}).status, 0);
        std::ofstream(dir_ / "scratch.raw").close();
        fs::resize_file(dir_ / "scratch.raw", 8 * kMiB);
        fs::create_directories(target());
        writeGuest("vm1");
        std::ofstream(dir_ / "instances" / "vm1.toml", std::ios::app)
            << "\n[[disk]]\nid = \"data\"\nformat = \"qcow2\"\npath = \"" << source().string()
            << "\"\n\n[[disk]]\nid = \"scratch\"\npath = \"" << (dir_ / "scratch.raw").string()
            << "\"\n";
    }
    CommandResult qemuImg(std::vector<std::string> args) {
        args.insert(args.begin(), "qemu-img");
        return runCommand(args, 120s, dir_.path());
    }
    CommandResult ctl(std::vector<std::string> args) {
        std::vector<std::string> argv = {std::string(CORRAL_BINARY_DIR) + "/supervisor/corralctl",
                                         "--address", address_};
        argv.insert(argv.end(), args.begin(), args.end());
        return runCommand(argv, 300s, dir_.path());
    }
    // The guest writes `mib` MiB of the letter `fill` at MiB `offset` of vda, flushed.
    void guestFill(char fill, int offset, int mib) {
        auto out = call("vm1", "GuestExecute",
                        {"asst", "3", "sh", "-c",
                         std::string("tr '\\0' '") + fill + "' </dev/zero | dd of=/dev/vda bs=1M " +
                             "count=" + std::to_string(mib) + " seek=" + std::to_string(offset) +
                             " iflag=fullblock oflag=direct conv=fsync 2>&1 && echo written",
                         "", "60000000"},
                        90s);
        ASSERT_NE(out.output.find("written"), std::string::npos) << out.output;
    }
    // Bytes of `file` itself holding data (not its backing file's), from qemu-img map.
    std::uint64_t ownData(const fs::path& file) {
        auto out = qemuImg({"map", "--output=json", file.string()});
        auto map = monitor::parseJson(out.output);
        EXPECT_TRUE(map && map->IsArray()) << out.output;
        std::uint64_t bytes = 0;
        if (!map || !map->IsArray()) return 0;
        for (const auto& e : map->GetArray())
            if (e["depth"].GetUint() == 0 && e["data"].GetBool()) bytes += e["length"].GetUint64();
        return bytes;
    }
    // Whether the restore of `top` (qemu-img convert of its chain) equals the source disk, read
    // while the guest is paused (its writes flushed before).
    bool restoresToSource(const fs::path& top) {
        auto restored = dir_ / "restored.raw";
        fs::remove(restored);
        EXPECT_EQ(qemuImg({"convert", "-O", "raw", top.string(), restored.string()}).status, 0);
        EXPECT_EQ(call("vm1", "Pause").status, 0);
        auto same = qemuImg(
            {"compare", "-U", "-f", "qcow2", "-F", "raw", source().string(), restored.string()});
        EXPECT_EQ(call("vm1", "Resume").status, 0);
        return same.status == 0;
    }
    // query-jobs through the Monitor method.
    std::string jobs() {
        return call("vm1", "Monitor", {"s", R"({"execute":"query-jobs"})"}).output;
    }
    static long msSince(std::chrono::steady_clock::time_point begin) {
        return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now() - begin)
                                     .count());
    }
    static std::string readFile(const fs::path& file) {
        std::ifstream in(file);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
    std::vector<std::string> targetFiles() const {
        std::vector<std::string> names;
        for (const auto& e : fs::directory_iterator(target())) names.push_back(e.path().filename());
        std::sort(names.begin(), names.end());
        return names;
    }
};

TEST_F(BackupGuest, FullThenIncrementalRestoresTheDiskAndSurvivesAKilledCorrald) {
    writeBackupGuest();
    startCorrald();
    ASSERT_EQ(call("vm1", "Start").status, 0) << corraldLog();
    ASSERT_TRUE(waitProperty("vm1", "AgentConnected", "b true", 180s)) << corraldLog();
    guestFill('A', 0, 8);

    // Bad input: clear errors, nothing changed, no file left.
    auto dir = target().string();
    auto refused = [&](std::vector<std::string> args, const std::string& text) {
        auto out = call("vm1", "Backup", args);
        EXPECT_NE(out.status, 0) << out.output;
        EXPECT_NE(out.output.find(text), std::string::npos) << out.output;
    };
    refused({"sa{sv}", dir.c_str(), "1", "mode", "s", "incremental"},
            "disk data has no backup yet; an incremental one needs a full one before it");
    refused({"sa{sv}", dir.c_str(), "0"}, "disk scratch is raw; the dirty bitmap");
    refused({"sa{sv}", dir.c_str(), "1", "disks", "as", "1", "nope"}, "there is no disk nope");
    refused({"sa{sv}", (dir_ / "nodir").c_str(), "0"}, "is not a writable directory");
    refused({"sa{sv}", "relative", "0"}, "is not a writable directory");
    refused({"sa{sv}", dir.c_str(), "1", "mode", "s", "fast"}, "mode is full or incremental");
    refused({"sa{sv}", dir.c_str(), "1", "format", "s", "raw"}, "format is qcow2");
    refused({"sa{sv}", dir.c_str(), "1", "mode", "b", "true"}, "option \"mode\" is s, not b");
    refused({"sa{sv}", dir.c_str(), "1", "bogus", "s", "x"}, "unknown option \"bogus\"");
    auto cancel = call("vm1", "CancelBackup");
    EXPECT_NE(cancel.output.find("vm1 runs no backup."), std::string::npos) << cancel.output;
    auto badVerb = ctl({"backup", "list", "vm1", "--incremental"});
    EXPECT_EQ(badVerb.status, 2) << badVerb.output;
    EXPECT_TRUE(targetFiles().empty());
    EXPECT_EQ(property("vm1", "BackupState"), "s \"none\"");

    auto full = ctl({"backup", "create", "vm1", dir, "--disk", "data"});
    ASSERT_EQ(full.status, 0) << full.output << corraldLog();
    EXPECT_EQ(full.output.rfind("c1 full ", 0), 0u) << full.output;
    EXPECT_EQ(targetFiles(), (std::vector<std::string>{"data.c1.qcow2"}));
    EXPECT_EQ(property("vm1", "BackupState"), "s \"completed\"");
    auto progress = property("vm1", "BackupProgress");
    EXPECT_EQ(progress, "(tt) 67108864 67108864") << progress;
    EXPECT_TRUE(restoresToSource(target() / "data.c1.qcow2"));

    guestFill('B', 16, 1);
    EXPECT_FALSE(restoresToSource(target() / "data.c1.qcow2")) << "the guest's write is missing";
    auto begin = std::chrono::steady_clock::now();
    auto inc = ctl({"backup", "create", "vm1", dir, "--incremental", "--disk", "data"});
    auto incMs = msSince(begin);
    ASSERT_EQ(inc.status, 0) << inc.output << corraldLog();
    auto c2 = target() / "data.c2.qcow2";
    // The same data copied by hand: qemu-img convert of the incremental file alone.
    begin = std::chrono::steady_clock::now();
    ASSERT_EQ(qemuImg({"convert", "-O", "qcow2", "-B", (target() / "data.c1.qcow2").string(), "-F",
                       "qcow2", c2.string(), (dir_ / "by-hand.qcow2").string()})
                  .status,
              0);
    auto convertMs = msSince(begin);
    std::cout << "incremental backup of 1 MiB (corralctl backup create --incremental) " << incMs
              << " ms; qemu-img convert of the same data " << convertMs << " ms\n";
    EXPECT_EQ(ownData(c2), kMiB) << "an incremental holds the changed MiB only";
    EXPECT_LT(fs::file_size(c2), 2 * kMiB);
    EXPECT_TRUE(restoresToSource(c2));
    auto listed = call("vm1", "ListBackups");
    EXPECT_NE(listed.output.find("a(sstsa(ss)) 2 \"c1\" \"full\""), std::string::npos)
        << listed.output;
    EXPECT_NE(listed.output.find("\"c2\" \"incremental\""), std::string::npos) << listed.output;
    auto block = call("vm1", "Monitor", {"s", R"({"execute":"query-block"})"}).output;
    EXPECT_NE(block.find("corral-c2"), std::string::npos) << block;
    EXPECT_EQ(block.find("corral-c1"), std::string::npos) << "the old checkpoint's bitmap stays";

    // A slow full backup, corrald SIGKILLed in its middle: the next corrald ends the job and
    // removes its file; the bitmap of c2 still covers what the guest writes meanwhile.
    auto slowLog = dir_ / "slow-backup.log";
    auto slow = Process::spawn({"busctl", "--address",   address_,    "--timeout=300",
                                "call",   "org.corral1", path("vm1"), "org.corral1.Instance",
                                "Backup", "sa{sv}",      dir,         "3",
                                "mode",   "s",           "full",      "speed",
                                "t",      "1048576",     "disks",     "as",
                                "1",      "data"},
                               slowLog);
    ASSERT_TRUE(waitProperty("vm1", "BackupState", "s \"running\"", 60s))
        << corraldLog() << readFile(slowLog);
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (jobs().find("\"running\"") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(100ms);
    ASSERT_NE(jobs().find("corral-backup-data"), std::string::npos) << jobs();
    guestFill('C', 32, 1);
    killCorrald();
    slow.wait(30s);
    EXPECT_TRUE(fs::exists(target() / "data.c3.qcow2")) << "the killed backup's file is there";
    startCorrald();
    ASSERT_TRUE(waitProperty("vm1", "State", "s \"running\"", 30s)) << corraldLog();
    deadline = std::chrono::steady_clock::now() + 90s;
    while ((fs::exists(target() / "data.c3.qcow2") ||
            jobs().find("corral-backup") != std::string::npos) &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(100ms);
    EXPECT_FALSE(fs::exists(target() / "data.c3.qcow2")) << corraldLog();
    EXPECT_EQ(jobs().find("corral-backup"), std::string::npos) << jobs();
    block = call("vm1", "Monitor", {"s", R"({"execute":"query-block"})"}).output;
    EXPECT_EQ(block.find("corral-c3"), std::string::npos) << block;
    EXPECT_EQ(ctl({"backup", "list", "vm1"}).output.find("c3"), std::string::npos);

    auto after = ctl({"backup", "create", "vm1", dir, "--incremental", "--disk", "data"});
    ASSERT_EQ(after.status, 0) << after.output << corraldLog();
    auto c3 = target() / "data.c3.qcow2";
    EXPECT_EQ(ownData(c3), kMiB) << "the write made while the killed backup ran";
    EXPECT_TRUE(restoresToSource(c3));
}

}  // namespace
}  // namespace corral::test

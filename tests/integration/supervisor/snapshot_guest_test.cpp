// Snapshot, ListSnapshots, RevertSnapshot and DeleteSnapshot against a real guest under TCG:
// what the guest writes after a snapshot lands in the overlay (the definition's image keeps
// the snapshot's content), a restarted corrald finds the VM on its overlays, a running delete
// merges with block-commit until the chain is one image again, a forced revert restarts the
// guest on the snapshot's content, a stopped delete merges with qemu-img; bad input changes
// nothing and leaves no stray overlay.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "tests/integration/supervisor/corrald_fixture.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr std::uint64_t kMiB = 1ull << 20;

class SnapshotGuest : public CorraldFixture {
  protected:
    fs::path image(const std::string& name, std::uint64_t bytes) {
        auto file = dir_ / name;
        std::ofstream(file).close();
        fs::resize_file(file, bytes);
        return file;
    }
    // A guest with disk "data" (vda, raw, 64 MiB), read-only disk "ro" and an empty CD-ROM.
    void writeSnapshotGuest() {
        writeGuest("vm1");
        std::ofstream(dir_ / "instances" / "vm1.toml", std::ios::app)
            << "\n[[disk]]\nid = \"data\"\npath = \"" << image("data.raw", 64 * kMiB).string()
            << "\"\n\n[[disk]]\nid = \"ro\"\nreadonly = true\npath = \""
            << image("ro.raw", 8 * kMiB).string() << "\"\n\n[[cdrom]]\nid = \"cd0\"\n";
    }
    CommandResult ctl(std::vector<std::string> args) {
        std::vector<std::string> argv = {std::string(CORRAL_BINARY_DIR) + "/supervisor/corralctl",
                                         "--address", address_};
        argv.insert(argv.end(), args.begin(), args.end());
        return runCommand(argv, 300s, dir_.path());
    }
    // The guest writes `marker` into vda's first sector, past its page cache, and flushes it:
    // qcow2's metadata reaches the overlay file before the Kill that follows some writes.
    void guestWrite(const std::string& marker) {
        auto out =
            call("vm1", "GuestExecute",
                 {"asst", "3", "sh", "-c",
                  "printf " + marker +
                      " | dd of=/dev/vda bs=512 count=1 conv=sync,fsync oflag=direct 2>&1 && "
                      "echo written",
                  "", "60000000"},
                 90s);
        ASSERT_NE(out.output.find("written"), std::string::npos) << out.output;
    }
    // What the guest reads from vda's first sector (its first 8 bytes).
    std::string guestRead() {
        auto out = call("vm1", "GuestExecute",
                        {"asst", "3", "sh", "-c",
                         "dd if=/dev/vda bs=512 count=1 2>/dev/null | head -c 8", "", "60000000"},
                        90s);
        return out.output;
    }
    // The first 8 bytes of the definition's image, read on the host.
    std::string hostRead() {
        std::ifstream in(dir_ / "data.raw", std::ios::binary);
        std::string head(8, '\0');
        in.read(head.data(), 8);
        return head;
    }
    fs::path snapshotsDir() const { return dir_ / "state" / "vm1" / "snapshots"; }
    // The overlay files in the VM's snapshot dir.
    std::vector<std::string> overlays() const {
        std::vector<std::string> names;
        std::error_code ec;
        for (const auto& entry : fs::directory_iterator(snapshotsDir(), ec))
            if (entry.path().extension() == ".qcow2") names.push_back(entry.path().filename());
        std::sort(names.begin(), names.end());
        return names;
    }
    // qemu-img's backing chain of `file` (-U: qemu may hold it), one "image:" line per image.
    int chainLength(const fs::path& file) {
        auto out = runCommand({"qemu-img", "info", "-U", "--backing-chain", file.string()}, 30s,
                              dir_.path());
        int images = 0;
        for (std::size_t at = 0; (at = out.output.find("image: ", at)) != std::string::npos; ++at)
            ++images;
        return images;
    }
    void bootAndWait() {
        ASSERT_TRUE(waitProperty("vm1", "AgentConnected", "b true", 180s)) << corraldLog();
    }
};

TEST_F(SnapshotGuest, WritesGoToOverlaysAndComeBackOnRevertAndMerge) {
    writeSnapshotGuest();
    startCorrald();
    ASSERT_EQ(call("vm1", "Start").status, 0) << corraldLog();
    bootAndWait();

    guestWrite("AAAA0001");
    auto begin = std::chrono::steady_clock::now();
    auto made = ctl({"snapshot", "create", "vm1", "s1"});
    auto createMs = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - begin);
    ASSERT_EQ(made.status, 0) << made.output << corraldLog();
    EXPECT_EQ(overlays(), (std::vector<std::string>{"s1.data.qcow2"})) << "ro and cd0 are left";
    guestWrite("BBBB0002");
    EXPECT_EQ(guestRead().find("BBBB0002") != std::string::npos, true) << guestRead();
    EXPECT_EQ(hostRead(), "AAAA0001") << "the snapshot's image took the write";
    EXPECT_EQ(chainLength(snapshotsDir() / "s1.data.qcow2"), 2);

    // Bad input: clear errors, nothing changed, no stray overlay.
    auto refused = [&](std::vector<std::string> args, int code, const std::string& text) {
        auto out = ctl(args);
        EXPECT_EQ(out.status, code) << out.output;
        EXPECT_NE(out.output.find(text), std::string::npos) << out.output;
    };
    refused({"snapshot", "create", "vm1", "s1"}, 1, "vm1 has a snapshot s1 already.");
    refused({"snapshot", "create", "vm1", "../x"}, 2, "may have only A-Z a-z 0-9 _ - .");
    refused({"snapshot", "revert", "vm1", "s1"}, 5, "vm1 is running; stop it first, or revert");
    refused({"snapshot", "delete", "vm1", "nope"}, 2, "vm1 has no snapshot nope.");
    refused({"snapshot", "create", "nosuch", "s9"}, 3, "nosuch");
    refused({"snapshot", "list", "vm1", "s1"}, 2, "snapshot list takes NAME only");
    refused({"snapshot", "create", "vm1", "s9", "--force"}, 2, "--force goes with snapshot revert");
    auto freeze = call("vm1", "Snapshot", {"sa{sv}", "s9", "1", "freeze", "b", "true"});
    EXPECT_NE(freeze.output.find("freeze = true needs qemu-guest-agent"), std::string::npos)
        << freeze.output;
    auto typo = call("vm1", "Snapshot", {"sa{sv}", "s9", "1", "frezee", "b", "true"});
    EXPECT_NE(typo.output.find("unknown option \"frezee\""), std::string::npos) << typo.output;
    EXPECT_EQ(overlays(), (std::vector<std::string>{"s1.data.qcow2"}));

    // corrald SIGKILLed and restarted: the VM still runs on its overlay, the record agrees.
    killCorrald();
    startCorrald();
    ASSERT_TRUE(waitProperty("vm1", "State", "s \"running\"", 30s)) << corraldLog();
    auto listed = ctl({"snapshot", "list", "vm1"});
    EXPECT_EQ(listed.status, 0) << listed.output;
    EXPECT_EQ(listed.output.rfind("s1 ", 0), 0u) << listed.output;
    EXPECT_NE(listed.output.find("data:" + (snapshotsDir() / "s1.data.qcow2").string()),
              std::string::npos)
        << listed.output;
    auto bus = call("vm1", "ListSnapshots");
    EXPECT_NE(bus.output.find("a(sta(sss)) 1 \"s1\""), std::string::npos) << bus.output;
    guestWrite("CCCC0003");
    EXPECT_EQ(hostRead(), "AAAA0001");

    // A second snapshot, then both merged away while the guest runs: one image again, with
    // everything the guest wrote since.
    ASSERT_EQ(ctl({"snapshot", "create", "vm1", "s2"}).status, 0) << corraldLog();
    guestWrite("DDDD0004");
    auto merged2 = ctl({"snapshot", "delete", "vm1", "s2"});
    ASSERT_EQ(merged2.status, 0) << merged2.output << corraldLog();
    EXPECT_EQ(overlays(), (std::vector<std::string>{"s1.data.qcow2"}));
    begin = std::chrono::steady_clock::now();
    auto merged1 = ctl({"snapshot", "delete", "vm1", "s1"});
    auto deleteMs = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - begin);
    std::cout << "corralctl snapshot create " << createMs.count() << " ms, delete (block-commit) "
              << deleteMs.count() << " ms\n";
    ASSERT_EQ(merged1.status, 0) << merged1.output << corraldLog();
    EXPECT_TRUE(overlays().empty());
    EXPECT_EQ(chainLength(dir_ / "data.raw"), 1);
    EXPECT_EQ(hostRead(), "DDDD0004") << "the merge did not reach the definition's image";
    EXPECT_NE(guestRead().find("DDDD0004"), std::string::npos);
    auto block = call("vm1", "Monitor", {"s", R"({"execute":"query-block"})"});
    EXPECT_EQ(block.output.find("backing-image"), std::string::npos) << block.output;
    EXPECT_EQ(ctl({"snapshot", "list", "vm1"}).output, "");

    // Snapshot, write, forced revert: the guest starts again and reads the snapshot's content.
    ASSERT_EQ(ctl({"snapshot", "create", "vm1", "s3"}).status, 0) << corraldLog();
    guestWrite("EEEE0005");
    auto oldPid = pid("vm1");
    auto reverted = ctl({"snapshot", "revert", "vm1", "s3", "--force"});
    ASSERT_EQ(reverted.status, 0) << reverted.output << corraldLog();
    EXPECT_NE(pid("vm1"), oldPid);
    bootAndWait();
    EXPECT_NE(guestRead().find("DDDD0004"), std::string::npos) << guestRead();
    EXPECT_EQ(overlays(), (std::vector<std::string>{"s3.data.qcow2"}));

    // Stopped: written again, reverted without force, then merged by qemu-img.
    guestWrite("FFFF0006");
    ASSERT_EQ(call("vm1", "Kill").status, 0);
    ASSERT_TRUE(waitProperty("vm1", "State", "s \"stopped\"", 30s));
    ASSERT_EQ(ctl({"snapshot", "revert", "vm1", "s3"}).status, 0) << corraldLog();
    EXPECT_EQ(chainLength(snapshotsDir() / "s3.data.qcow2"), 2);
    auto offline = ctl({"snapshot", "delete", "vm1", "s3"});
    ASSERT_EQ(offline.status, 0) << offline.output << corraldLog();
    EXPECT_TRUE(overlays().empty());
    EXPECT_EQ(chainLength(dir_ / "data.raw"), 1);
    EXPECT_EQ(hostRead(), "DDDD0004") << "the revert kept FFFF0006 or the merge lost DDDD0004";
}

}  // namespace
}  // namespace corral::test

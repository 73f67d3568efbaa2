// Instance.ResizeDisk, SetDiskLimits / GetDiskLimits and corralctl resize / limits against a real
// guest under TCG: the guest sees a disk grow without a reboot; a write limit from the
// definition slows the guest's writes, a live change takes effect at once; every refusal leaves
// image and limits as they were; a restarted corrald finds the new size and the live limits.
// One booted guest serves every check.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <thread>

#include "tests/integration/supervisor/corrald_fixture.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t kMiB = 1ull << 20;

class DiskGuest : public CorraldFixture {
  protected:
    std::filesystem::path image(const std::string& name, std::uint64_t bytes) {
        auto file = dir_ / name;
        std::ofstream(file).close();
        std::filesystem::resize_file(file, bytes);
        return file;
    }
    // A guest with disk "data" (vda, 64 MiB), the read-only disk "ro" (vdb), disk "lim" (vdc)
    // written at most 1 MiB/s, and an empty CD-ROM.
    void writeDiskGuest(const std::string& name) {
        writeGuest(name);
        std::ofstream(dir_ / "instances" / (name + ".toml"), std::ios::app)
            << "\n[[disk]]\nid = \"data\"\npath = \"" << image("data.raw", 64 * kMiB).string()
            << "\"\n\n[[disk]]\nid = \"ro\"\nreadonly = true\npath = \""
            << image("ro.raw", 8 * kMiB).string() << "\"\n\n[[disk]]\nid = \"lim\"\npath = \""
            << image("lim.raw", 16 * kMiB).string()
            << "\"\nbps_wr = \"1M\"\n\n[[cdrom]]\nid = \"cd0\"\n";
    }
    // How long the guest takes to write 4 MiB to /dev/<disk> with O_DIRECT (no page cache).
    std::chrono::milliseconds timedWrite(const std::string& disk) {
        auto begin = std::chrono::steady_clock::now();
        auto out = call("vm1", "GuestExecute",
                        {"asst", "3", "sh", "-c",
                         "dd if=/dev/zero of=/dev/" + disk +
                             " bs=64k count=64 oflag=direct 2>&1 && echo wrote-4MiB",
                         "", "60000000"},
                        90s);
        auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - begin);
        EXPECT_NE(out.output.find("wrote-4MiB"), std::string::npos) << out.output;
        return took;
    }
    CommandResult limits(const std::string& id) { return call("vm1", "GetDiskLimits", {"s", id}); }
    CommandResult resize(const std::string& id, std::uint64_t bytes) {
        return call("vm1", "ResizeDisk", {"st", id, std::to_string(bytes)});
    }
    CommandResult ctl(std::vector<std::string> args) {
        std::vector<std::string> argv = {std::string(CORRAL_BINARY_DIR) + "/supervisor/corralctl",
                                         "--address", address_};
        argv.insert(argv.end(), args.begin(), args.end());
        return runCommand(argv, 120s, dir_.path());
    }
    // The guest's view of vda in 512-byte sectors, polled until it is `sectors`, bounded.
    bool waitGuestSectors(std::uint64_t sectors) {
        std::regex expected("\"" + std::to_string(sectors) + "[^0-9]");
        std::string last;
        auto deadline = std::chrono::steady_clock::now() + 60s;
        while (std::chrono::steady_clock::now() < deadline) {
            last = call("vm1", "GuestExecute",
                        {"asst", "2", "cat", "/sys/block/vda/size", "", "20000000"})
                       .output;
            if (std::regex_search(last, expected)) return true;
            std::this_thread::sleep_for(200ms);
        }
        ADD_FAILURE() << "the guest's vda has not " << sectors << " sectors: " << last;
        return false;
    }
    // corralctl resize with SIZE in bytes: refused with exit `code` (2 InvalidArgument, 5
    // InvalidState) and corrald's sentence containing `text`; the same through busctl.
    void expectRefused(const std::string& id, std::uint64_t bytes, int code,
                       const std::string& text) {
        auto viaCtl = ctl({"resize", "vm1", id, std::to_string(bytes)});
        EXPECT_EQ(viaCtl.status, code) << id << " " << bytes << ": " << viaCtl.output;
        EXPECT_NE(viaCtl.output.find(text), std::string::npos) << viaCtl.output;
        auto viaBus = resize(id, bytes);
        EXPECT_NE(viaBus.status, 0) << viaBus.output;
        EXPECT_NE(viaBus.output.find(text), std::string::npos) << viaBus.output;
    }
};

TEST_F(DiskGuest, GrowsLiveAndRefusesEverythingElse) {
    writeDiskGuest("vm1");
    startCorrald();
    // Stopped: refused, saying how to grow the image instead.
    expectRefused("data", 96 * kMiB, 5, "vm1 is not running; ResizeDisk grows the disks");

    ASSERT_EQ(call("vm1", "Start").status, 0) << corraldLog();
    ASSERT_TRUE(waitProperty("vm1", "AgentConnected", "b true", 180s)) << corraldLog();
    ASSERT_TRUE(waitGuestSectors(64 * kMiB / 512));

    auto grown = resize("data", 96 * kMiB);
    ASSERT_EQ(grown.status, 0) << grown.output << corraldLog();
    EXPECT_TRUE(waitGuestSectors(96 * kMiB / 512)) << "the guest did not see the new size";
    EXPECT_EQ(std::filesystem::file_size(dir_ / "data.raw"), 96 * kMiB);

    // Refusals: nothing changes, on the host or in the guest.
    expectRefused("data", 32 * kMiB, 2, "shrinking it to 33554432 is refused");
    expectRefused("data", 96 * kMiB, 5, "disk data already has 100663296 bytes");
    expectRefused("data", 96 * kMiB + 1000, 2, "is not a multiple of 512");
    expectRefused("nope", 96 * kMiB, 2, "vm1 has no device nope.");
    expectRefused("../x", 96 * kMiB, 2, "Bad device id");
    expectRefused("ro", 16 * kMiB, 2, "disk ro is read-only");
    expectRefused("cd0", 16 * kMiB, 2, "cd0 is a cdrom, not a disk");
    auto zero = resize("data", 0);
    EXPECT_NE(zero.output.find("0 bytes is no size for a disk"), std::string::npos) << zero.output;
    auto huge = resize("data", ~0ull - 511);
    EXPECT_NE(huge.output.find("more than QEMU's largest image"), std::string::npos) << huge.output;
    EXPECT_EQ(std::filesystem::file_size(dir_ / "data.raw"), 96 * kMiB);
    EXPECT_EQ(std::filesystem::file_size(dir_ / "ro.raw"), 8 * kMiB);
    EXPECT_TRUE(waitGuestSectors(96 * kMiB / 512));

    // corralctl: SIZE with a unit; a malformed one is a usage error before any call.
    auto ctlGrown = ctl({"resize", "vm1", "data", "128M"});
    EXPECT_EQ(ctlGrown.status, 0) << ctlGrown.output;
    EXPECT_TRUE(waitGuestSectors(128 * kMiB / 512));
    auto badSize = ctl({"resize", "vm1", "data", "12X"});
    EXPECT_EQ(badSize.status, 2) << badSize.output;
    EXPECT_NE(badSize.output.find("SIZE wants a size such as 10G"), std::string::npos)
        << badSize.output;
    auto toGiB = ctl({"resize", "vm1", "data", "1G"});
    EXPECT_EQ(toGiB.status, 0) << toGiB.output;
    auto back = ctl({"resize", "vm1", "data", "128M"});
    EXPECT_NE(back.status, 0) << back.output;
    EXPECT_NE(back.output.find("shrinking it to 134217728 is refused"), std::string::npos)
        << back.output;

    // I/O limits: 4 MiB at 1 MiB/s take about 4 s (at least 3 s whatever the load); without a
    // limit far less.
    auto limited = timedWrite("vdc");
    EXPECT_GE(limited, 3000ms);
    auto free = timedWrite("vda");
    EXPECT_LT(free * 2, limited) << "unlimited " << free.count() << " ms";
    std::cout << "4 MiB O_DIRECT write: bps_wr 1M " << limited.count() << " ms, unlimited "
              << free.count() << " ms\n";
    EXPECT_NE(limits("lim").output.find("\"bps_wr\" t 1048576"), std::string::npos)
        << limits("lim").output;
    EXPECT_EQ(limits("data").output, "a{sv} 0\n");
    // Live: the limit moves from lim to data.
    ASSERT_EQ(ctl({"limits", "vm1", "lim", "bps_wr=0"}).status, 0);
    auto setData = call("vm1", "SetDiskLimits", {"sa{sv}", "data", "1", "bps_wr", "t", "1048576"});
    ASSERT_EQ(setData.status, 0) << setData.output;
    EXPECT_LT(timedWrite("vdc") * 2, limited) << "the limit was not lifted";
    EXPECT_GE(timedWrite("vda"), 3000ms) << "the new limit did not take effect";
    auto shown = ctl({"limits", "vm1", "data"});
    EXPECT_EQ(shown.output, "bps_wr 1048576\n");
    // Bad input: nothing changes.
    auto refusedLimit = [&](std::vector<std::string> dict, const std::string& text) {
        std::vector<std::string> args = {"sa{sv}", "data"};
        args.insert(args.end(), dict.begin(), dict.end());
        auto out = call("vm1", "SetDiskLimits", args);
        EXPECT_NE(out.status, 0) << out.output;
        EXPECT_NE(out.output.find(text), std::string::npos) << out.output;
    };
    refusedLimit({"1", "bps_wr", "x", "-1"}, "\"bps_wr\" is negative");
    refusedLimit({"1", "bps_write", "t", "1"}, "unknown limit \"bps_write\"");
    refusedLimit({"1", "bps_wr_max", "t", "1000"},
                 "bps_wr_max (1000) is below bps_wr (1048576); a burst is at least the rate; "
                 "nothing was changed.");
    refusedLimit({"1", "bps_total", "t", "1000"}, "bps_total and bps_wr exclude each other");
    refusedLimit({"0"}, "no limits given");
    auto cdLimit = call("vm1", "SetDiskLimits", {"sa{sv}", "cd0", "1", "bps_wr", "t", "1"});
    EXPECT_NE(cdLimit.output.find("cd0 is a cdrom, not a disk; only disks have I/O limits."),
              std::string::npos)
        << cdLimit.output;
    EXPECT_EQ(ctl({"limits", "vm1", "data", "bps_wr"}).status, 2);
    EXPECT_EQ(ctl({"limits", "vm1", "data"}).output, "bps_wr 1048576\n");

    // A hotplugged disk takes limits as a definition's does; QEMU has them.
    auto hot = call("vm1", "AttachDevice",
                    {"ssa{sv}", "disk", "hot", "2", "path", "s",
                     image("hot.raw", 8 * kMiB).string(), "iops_wr", "s", "200"});
    ASSERT_EQ(hot.status, 0) << hot.output << corraldLog();
    EXPECT_NE(limits("hot").output.find("\"iops_wr\" t 200"), std::string::npos)
        << limits("hot").output;
    auto block = call("vm1", "Monitor", {"s", R"({"execute":"query-block"})"});
    EXPECT_NE(block.output.find(R"(\"iops_wr\":200)"), std::string::npos) << block.output;

    // A restarted corrald adopts the qemu and reads the size from it, not from a record.
    killCorrald();
    startCorrald();
    ASSERT_TRUE(waitProperty("vm1", "State", "s \"running\"", 30s)) << corraldLog();
    expectRefused("data", 1024 * kMiB, 5, "disk data already has 1073741824 bytes");
    EXPECT_TRUE(waitGuestSectors(1024 * kMiB / 512));
    EXPECT_EQ(ctl({"limits", "vm1", "data"}).output, "bps_wr 1048576\n") << "live limits kept";
    EXPECT_GE(timedWrite("vda"), 3000ms);
}

}  // namespace
}  // namespace corral::test

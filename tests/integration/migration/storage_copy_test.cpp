// Live migration with storage "copy" between two real corrald in two network namespaces: no
// shared storage. Each "host" has its own storage directory seen at the same path (the
// destination's corrald runs with its own directory bind-mounted there), so the destination
// really creates the image and the disk's data really travels over NBD.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <csignal>
#include <fstream>
#include <regex>
#include <thread>

#include "tests/integration/migration/migration_host.hpp"
#include "tests/integration/migration/veth_link.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string sha256(const std::filesystem::path& file) {
    auto r = runCommand({"sha256sum", file.string()}, 60s, file.parent_path());
    return r.status == 0 ? r.output.substr(0, 64) : "sha256sum failed: " + r.output;
}

class StorageCopy : public ::testing::Test {
  protected:
    // The VM's disk `data` at store/vm1-data.img, made by `make` (given the path) on the host.
    void boot(const std::function<void(const std::filesystem::path&)>& make) {
        std::filesystem::create_directories(store);
        std::filesystem::create_directories(dstStore);
        make(image);
        dst.bindMount(dstStore, store);
        src.writeDefinition("vm1", guestDefinition("\n[[disk]]\nid = \"data\"\npath = \"" +
                                                   image.string() + "\"\n"));
        src.start("[migration]\n" + tlsDirLine(src));
        dst.start(destinationConfig());
        auto start = src.call("vm1", "Start");
        ASSERT_EQ(start.status, 0) << start.output << src.log();
        ASSERT_TRUE(src.waitProperty("vm1", "AgentConnected", "b true", 180s)) << src.log();
        sourcePid = src.pid("vm1");
    }

    // Its own [storage] is where the source's disk path is.
    std::string destinationConfig() {
        return std::string("[migration]\nlisten_address = \"") + VethLink::kDestinationAddress +
               "\"\nport_range = \"49840-49859\"\n" + tlsDirLine(dst) +
               "\n[storage]\nallowed_dirs = [\"" + store.string() + "\"]\n";
    }

    CommandResult exec(MigrationHost& host, const std::string& shell) {
        return host.call("vm1", "GuestExecute", {"asst", "3", "sh", "-c", shell, "", "30000000"});
    }

    // corralctl migrate vm1 DEST --copy-storage ARGS..., in the background (plain progress
    // lines: not a terminal).
    void startMigrate(std::vector<std::string> args) {
        std::vector<std::string> argv = {std::string(CORRAL_BINARY_DIR) + "/supervisor/corralctl",
                                         "--address",
                                         src.address(),
                                         "migrate",
                                         "vm1",
                                         dst.address(),
                                         "--copy-storage"};
        argv.insert(argv.end(), args.begin(), args.end());
        migrateOut = src.scratch() / ("migrate" + std::to_string(++migrations) + ".out");
        migrate = Process::spawn(argv, migrateOut);
    }
    CommandResult finishMigrate(std::chrono::milliseconds timeout = 300s) {
        return finishCommand(migrate, migrateOut, timeout);
    }
    bool waitNoDestinationQemu() {
        auto deadline = Clock::now() + 20s;
        while (!dst.qemuPids().empty() && Clock::now() < deadline)
            std::this_thread::sleep_for(50ms);
        return dst.qemuPids().empty();
    }
    // The VM runs here with the same qemu; the destination has no qemu, no image, no runtime dir.
    void expectOnSourceOnly() {
        EXPECT_EQ(src.property("vm1", "State"), "s \"running\"") << src.log();
        EXPECT_EQ(src.pid("vm1"), sourcePid);
        auto alive = exec(src, "echo alive");
        EXPECT_NE(alive.output.find("alive"), std::string::npos) << alive.output;
        EXPECT_TRUE(waitNoDestinationQemu()) << dst.log();
        EXPECT_FALSE(std::filesystem::exists(dstStore / "vm1-data.img")) << dst.log();
        EXPECT_FALSE(std::filesystem::exists(dst.runtimeDir() / "vm1")) << dst.log();
        EXPECT_FALSE(std::filesystem::exists(dst.instancesDir() / "vm1.toml"));
    }

    VethLink link;
    MigrationHost src{"source", link.source()};
    MigrationHost dst{"destination", link.destination()};
    std::filesystem::path store = src.scratch() / "store";
    std::filesystem::path dstStore = dst.scratch() / "store";
    std::filesystem::path image = store / "vm1-data.img";
    pid_t sourcePid = 0;
    Process migrate;
    std::filesystem::path migrateOut;
    unsigned migrations = 0;
};

// The guest writes to a file system on the disk while the disks are mirrored and while the RAM
// is sent; then it stops writing (before the switchover, so that the image at the switchover is
// a fixed thing to compare with). The destination's image equals the source's, the file system
// there is clean, and the guest reads its files back.
TEST_F(StorageCopy, TheDiskTravelsWithTheGuestWritingToIt) {
    boot([](const std::filesystem::path& path) {
        std::filesystem::resize_file((std::ofstream(path), path), 64 << 20);
        auto made = runCommand({"mkfs.vfat", path.string()}, 30s, path.parent_path());
        ASSERT_EQ(made.status, 0) << made.output;
    });
    auto mounted = exec(src, "mkdir -p /mnt && mount -t vfat /dev/vda /mnt && echo mounted");
    ASSERT_NE(mounted.output.find("mounted"), std::string::npos) << mounted.output;
    auto writer = exec(
        src,
        "(i=0; while [ ! -e /tmp/stop ]; do dd if=/dev/urandom of=/mnt/f$((i%8)) "
        "bs=64k count=8 conv=fsync 2>/dev/null; i=$((i+1)); echo $i >/tmp/count; usleep 250000; "
        "done; sync; touch /tmp/stopped) >/dev/null 2>&1 </dev/null & "
        "while [ ! -e /tmp/count ]; do usleep 50000; done; cat /tmp/count");
    ASSERT_FALSE(writer.output.empty()) << writer.output;
    auto countAt = [this]() {
        auto r = exec(src, "cat /tmp/count");
        auto quote = r.output.find('"');
        return quote == std::string::npos ? -1 : std::atoi(r.output.c_str() + quote + 1);
    };
    int before = countAt();
    // 4 MB/s: the RAM takes seconds, long enough to stop the writer while it is sent; the guest
    // writes 512 KiB about every 0.3 s, so the mirrors (at that bandwidth too) catch up.
    startMigrate({"--bandwidth", "4000000"});
    ASSERT_TRUE(src.waitProperty("vm1", "MigrationState", "s \"active\"", 120s))
        << src.log() << dst.log() << readFile(migrateOut);
    int during = countAt();
    auto stopped = exec(src,
                        "touch /tmp/stop; i=0; while [ ! -e /tmp/stopped ] && [ $i -lt 300 ]; "
                        "do usleep 100000; i=$((i+1)); done; [ -e /tmp/stopped ] && echo stopped");
    ASSERT_NE(stopped.output.find("stopped"), std::string::npos) << stopped.output;
    ASSERT_EQ(src.property("vm1", "MigrationState"), "s \"active\"")
        << "the RAM was sent before the writer stopped; the test needs a slower stream";
    EXPECT_GT(during, before) << "the guest did not write while its disk was copied";
    auto migrated = finishMigrate();
    ASSERT_EQ(migrated.status, 0) << migrated.output << src.log() << dst.log();
    EXPECT_NE(migrated.output.find("vm1: copying-storage "), std::string::npos) << migrated.output;
    EXPECT_NE(migrated.output.find("vm1: active "), std::string::npos) << migrated.output;
    EXPECT_TRUE(src.qemuPids().empty());

    // The source's image as it was at the switchover (its qemu is gone) is the destination's.
    auto copied = dstStore / "vm1-data.img";
    ASSERT_TRUE(std::filesystem::exists(copied)) << dst.log();
    EXPECT_EQ(std::filesystem::file_size(copied), std::filesystem::file_size(image));
    EXPECT_EQ(sha256(copied), sha256(image));
    EXPECT_FALSE(std::filesystem::exists(dst.runtimeDir() / "vm1" / "copied-images"));
    EXPECT_TRUE(std::filesystem::exists(dst.instancesDir() / "vm1.toml"));

    // The guest goes on there with its files, and its file system is clean once unmounted.
    EXPECT_EQ(dst.property("vm1", "State"), "s \"running\"") << dst.log();
    ASSERT_TRUE(dst.waitProperty("vm1", "AgentConnected", "b true", 60s)) << dst.log();
    auto files = exec(dst, "ls /mnt | wc -l; cat /mnt/f0 /mnt/f1 >/dev/null && echo readable");
    EXPECT_NE(files.output.find("readable"), std::string::npos) << files.output;
    auto unmounted = exec(dst, "umount /mnt && sync && echo unmounted");
    ASSERT_NE(unmounted.output.find("unmounted"), std::string::npos) << unmounted.output;
    auto fsck = runCommand({"fsck.vfat", "-n", copied.string()}, 60s, dst.scratch());
    EXPECT_EQ(fsck.status, 0) << fsck.output;
}

// Refusals and failures before the switchover leave the source as it was and the destination
// without anything: an image path that exists there, a cancel during the copy, and the
// destination corrald killed during the copy (its successor removes what it made).
TEST_F(StorageCopy, RefusedCancelledOrInterruptedCopiesLeaveNothingBehind) {
    boot([](const std::filesystem::path& path) {
        std::filesystem::resize_file((std::ofstream(path), path), 48 << 20);
        auto filled = runCommand(
            {"dd", "if=/dev/urandom", "of=" + path.string(), "bs=1M", "count=24", "conv=notrunc"},
            60s, path.parent_path());
        ASSERT_EQ(filled.status, 0) << filled.output;
    });
    const auto original = sha256(image);

    // The image path exists on the destination: refused, and that file is not touched.
    std::ofstream(dstStore / "vm1-data.img") << "theirs";
    startMigrate({});
    auto refused = finishMigrate(120s);
    EXPECT_NE(refused.status, 0);
    EXPECT_NE(refused.output.find("exists already on this host; storage copy creates it"),
              std::string::npos)
        << refused.output;
    EXPECT_EQ(readFile(dstStore / "vm1-data.img"), "theirs");
    EXPECT_TRUE(dst.qemuPids().empty());
    std::filesystem::remove(dstStore / "vm1-data.img");
    expectOnSourceOnly();

    // Cancel while the disk is copied (1 MB/s: 24 MiB of data take long enough).
    startMigrate({"--bandwidth", "1000000"});
    ASSERT_TRUE(src.waitProperty("vm1", "MigrationState", "s \"copying-storage\"", 60s))
        << src.log() << dst.log() << readFile(migrateOut);
    EXPECT_TRUE(std::filesystem::exists(dstStore / "vm1-data.img")) << dst.log();
    auto cancel = src.call("vm1", "CancelMigration");
    EXPECT_EQ(cancel.status, 0) << cancel.output;
    auto cancelled = finishMigrate(60s);
    EXPECT_NE(cancelled.status, 0);
    EXPECT_NE(cancelled.output.find("cancelled"), std::string::npos) << cancelled.output;
    EXPECT_NE(cancelled.output.find("vm1 runs here"), std::string::npos) << cancelled.output;
    EXPECT_EQ(src.property("vm1", "MigrationState"), "s \"cancelled\"");
    expectOnSourceOnly();
    EXPECT_EQ(sha256(image), original);

    // The destination corrald dies during the copy; its incoming qemu is left. The source gives
    // up; a restarted destination corrald kills that qemu and removes the image.
    startMigrate({"--bandwidth", "1000000"});
    ASSERT_TRUE(src.waitProperty("vm1", "MigrationState", "s \"copying-storage\"", 60s))
        << src.log() << dst.log();
    dst.killCorrald();
    auto abandoned = finishMigrate(60s);
    EXPECT_NE(abandoned.status, 0);
    EXPECT_NE(abandoned.output.find("the destination corrald went away"), std::string::npos)
        << abandoned.output << src.log();
    EXPECT_TRUE(std::filesystem::exists(dstStore / "vm1-data.img"));
    dst.start(destinationConfig());
    expectOnSourceOnly();
    EXPECT_EQ(sha256(image), original);

    // The source corrald dies during the copy: the restarted one finds the record, ends the
    // mirrors its predecessor left in the qemu and aborts the destination (image removed).
    startMigrate({"--bandwidth", "1000000"});
    ASSERT_TRUE(src.waitProperty("vm1", "MigrationState", "s \"copying-storage\"", 60s))
        << src.log() << dst.log();
    src.killCorrald();
    finishMigrate(30s);  // its caller lost the reply with the corrald
    src.start("[migration]\n" + tlsDirLine(src));
    EXPECT_TRUE(src.waitProperty("vm1", "MigrationState", "s \"failed\"", 60s)) << src.log();
    expectOnSourceOnly();
    EXPECT_EQ(sha256(image), original);
    // No mirror is left in the source's qemu: another copy starts and is cancelled cleanly.
    startMigrate({"--bandwidth", "1000000"});
    ASSERT_TRUE(src.waitProperty("vm1", "MigrationState", "s \"copying-storage\"", 60s))
        << src.log() << dst.log() << readFile(migrateOut);
    EXPECT_EQ(src.call("vm1", "CancelMigration").status, 0);
    EXPECT_NE(finishMigrate(60s).output.find("cancelled"), std::string::npos) << src.log();
    expectOnSourceOnly();
}

// With tls the disks travel over TLS too: the NBD server takes the stream's server certificate,
// the source's NBD client proves itself with its client certificate.
TEST_F(StorageCopy, TheDiskTravelsOverTls) {
    // Before the VM starts: a confined qemu loads the TLS credentials at its start.
    auto ca = src.scratch() / "ca";
    writeCertificates(ca, dst.scratch() / "pki", "server", VethLink::kDestinationAddress);
    writeCertificates(ca, src.scratch() / "pki", "client", "");
    boot([](const std::filesystem::path& path) {
        std::filesystem::resize_file((std::ofstream(path), path), 16 << 20);
        auto filled = runCommand(
            {"dd", "if=/dev/urandom", "of=" + path.string(), "bs=1M", "count=4", "conv=notrunc"},
            60s, path.parent_path());
        ASSERT_EQ(filled.status, 0) << filled.output;
    });
    startMigrate({"--tls"});
    auto migrated = finishMigrate();
    ASSERT_EQ(migrated.status, 0) << migrated.output << src.log() << dst.log();
    EXPECT_EQ(sha256(dstStore / "vm1-data.img"), sha256(image));
    EXPECT_EQ(dst.property("vm1", "State"), "s \"running\"") << dst.log();
}

}  // namespace
}  // namespace corral::test

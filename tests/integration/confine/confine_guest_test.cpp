// Every qemu corrald starts runs confined: two real guests read from /proc (their own non-zero
// uids, no capabilities, no_new_privs, seccomp filter, an empty root), what their uid can open
// (not the neighbour's 0600 disk, not /etc/shadow), and a corrald SIGKILL and restart that keeps
// each VM's uid and hands a third VM another one.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "tests/integration/supervisor/corrald_fixture.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;

// The real uid of a Uid:/Gid: line ("70000\t70000\t70000\t70000").
unsigned firstId(const std::string& line) {
    return static_cast<unsigned>(std::stoul(line));
}

class ConfineGuest : public CorraldFixture {
  protected:
    // A guest with a 0600 raw disk of its own.
    std::filesystem::path writeGuestWithDisk(const std::string& name) {
        writeGuest(name);
        auto image = dir_ / (name + ".img");
        std::ofstream(image) << std::string(1 << 20, 'x');
        ::chmod(image.c_str(), 0600);
        std::ofstream(dir_ / "instances" / (name + ".toml"), std::ios::app)
            << "\n[[disk]]\nid = \"data\"\npath = \"" << image.string() << "\"\nformat = \"raw\"\n";
        return image;
    }
    void expectConfined(pid_t qemu, const std::string& name) {
        auto status = procStatus(qemu);
        ASSERT_FALSE(status.empty()) << name << ": no /proc/" << qemu << "/status";
        unsigned uid = firstId(status["Uid"]);
        EXPECT_NE(uid, 0u) << name;
        EXPECT_EQ(status["Uid"], std::to_string(uid) + "\t" + std::to_string(uid) + "\t" +
                                     std::to_string(uid) + "\t" + std::to_string(uid))
            << name;
        EXPECT_EQ(firstId(status["Gid"]), uid) << name;
        for (const char* caps : {"CapEff", "CapPrm", "CapInh", "CapAmb"})
            EXPECT_EQ(status[caps], "0000000000000000") << name << " " << caps;
        EXPECT_EQ(status["NoNewPrivs"], "1") << name;
        EXPECT_EQ(status["Seccomp"], "2") << name;
        std::error_code ec;
        auto root = std::filesystem::path("/proc") / std::to_string(qemu) / "root";
        EXPECT_TRUE(std::filesystem::is_empty(root, ec)) << name << ": " << ec.message();
        EXPECT_FALSE(ec) << name << ": " << ec.message();
    }
    unsigned uidOf(pid_t qemu) { return firstId(procStatus(qemu)["Uid"]); }
    // `cat path` as `uid` (and gid), without supplementary groups.
    CommandResult catAs(unsigned uid, const std::filesystem::path& path) {
        auto id = std::to_string(uid);
        return runCommand(
            {"setpriv", "--reuid=" + id, "--regid=" + id, "--clear-groups", "cat", path.string()},
            10s, dir_.path());
    }
};

TEST_F(ConfineGuest, TwoVmsOwnUidsNoPrivilegeEmptyRootAndReattachKeepsThem) {
    if (::geteuid() != 0) GTEST_SKIP() << "confinement needs corrald to run as root";
    writeGuestWithDisk("vm1");
    auto disk2 = writeGuestWithDisk("vm2");
    writeGuest("vm3");
    startCorrald();
    ASSERT_EQ(call("vm1", "Start").status, 0) << corraldLog();
    ASSERT_EQ(call("vm2", "Start").status, 0) << corraldLog();
    ASSERT_TRUE(waitProperty("vm1", "State", "s \"running\"", 60s)) << corraldLog();
    ASSERT_TRUE(waitProperty("vm2", "State", "s \"running\"", 60s)) << corraldLog();
    pid_t qemu1 = pid("vm1"), qemu2 = pid("vm2");
    ASSERT_GT(qemu1, 0);
    ASSERT_GT(qemu2, 0);
    expectConfined(qemu1, "vm1");
    expectConfined(qemu2, "vm2");
    unsigned uid1 = uidOf(qemu1), uid2 = uidOf(qemu2);
    EXPECT_NE(uid1, uid2);
    EXPECT_GE(uid1, 70000u);  // the default [security] uid_range
    EXPECT_LE(uid2, 79999u);

    // vm1's uid cannot read vm2's disk (root can: the check can fail) nor /etc/shadow.
    ASSERT_EQ(runCommand({"cat", disk2.string()}, 10s, dir_.path()).status, 0);
    auto neighbour = catAs(uid1, disk2);
    EXPECT_NE(neighbour.status, 0) << neighbour.output;
    EXPECT_NE(neighbour.output.find("Permission denied"), std::string::npos) << neighbour.output;
    auto shadow = catAs(uid1, "/etc/shadow");
    EXPECT_NE(shadow.status, 0) << shadow.output;

    // state.json records the uid (the pool is the runtime dirs).
    std::ifstream state(dir_ / "run" / "vm1" / "state.json");
    std::stringstream text;
    text << state.rdbuf();
    EXPECT_NE(text.str().find("\"-runas\",\"" + std::to_string(uid1) + ":"), std::string::npos)
        << text.str();

    // A corrald SIGKILL and restart: both adopted with their uids; a third VM gets another.
    killCorrald();
    startCorrald();
    ASSERT_TRUE(waitProperty("vm1", "State", "s \"running\"", 30s)) << corraldLog();
    ASSERT_TRUE(waitProperty("vm2", "State", "s \"running\"", 30s)) << corraldLog();
    EXPECT_EQ(pid("vm1"), qemu1);
    EXPECT_EQ(pid("vm2"), qemu2);
    EXPECT_EQ(uidOf(qemu1), uid1);
    EXPECT_EQ(uidOf(qemu2), uid2);
    ASSERT_EQ(call("vm3", "Start").status, 0) << corraldLog();
    ASSERT_TRUE(waitProperty("vm3", "State", "s \"running\"", 60s)) << corraldLog();
    pid_t qemu3 = pid("vm3");
    expectConfined(qemu3, "vm3");
    std::set<unsigned> uids = {uid1, uid2, uidOf(qemu3)};
    EXPECT_EQ(uids.size(), 3u);

    // Stopped, vm1's uid is free again and the next start takes it.
    ASSERT_EQ(call("vm1", "Kill").status, 0) << corraldLog();
    ASSERT_TRUE(waitProperty("vm1", "State", "s \"stopped\"", 30s)) << corraldLog();
    ASSERT_EQ(call("vm1", "Start").status, 0) << corraldLog();
    ASSERT_TRUE(waitProperty("vm1", "State", "s \"running\"", 60s)) << corraldLog();
    EXPECT_EQ(uidOf(pid("vm1")), uid1);
}

// A disk of the definition may be a qcow2 overlay (qemu opens the chain as root at its start): the
// confined guest reads the base's bytes through it. A hotplugged overlay is refused before QEMU
// sees it, naming its backing file; the VM runs on, confined.
TEST_F(ConfineGuest, ABootOverlayReadsItsBaseAndAHotpluggedOverlayIsRefused) {
    if (::geteuid() != 0) GTEST_SKIP() << "confinement needs corrald to run as root";
    auto base = dir_ / "base.raw";
    std::ofstream(base) << "corral-base-content" << std::string((1 << 20) - 19, '\0');
    auto overlay = [&](const std::string& name) {
        auto image = dir_ / name;
        auto made = runCommand({"qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b",
                                base.string(), image.string()},
                               30s, dir_.path());
        EXPECT_EQ(made.status, 0) << made.output;
        ::chmod(image.c_str(), 0600);
        return image;
    };
    ::chmod(base.c_str(), 0600);
    auto top = overlay("top.qcow2");
    auto hot = overlay("hot.qcow2");
    writeGuest("vm1");
    std::ofstream(dir_ / "instances" / "vm1.toml", std::ios::app)
        << "\n[[disk]]\nid = \"ovl\"\npath = \"" << top.string() << "\"\nformat = \"qcow2\"\n";
    startCorrald();
    ASSERT_EQ(call("vm1", "Start").status, 0) << corraldLog();
    ASSERT_TRUE(waitProperty("vm1", "AgentConnected", "b true", 240s)) << corraldLog();
    expectConfined(pid("vm1"), "vm1");
    auto read =
        call("vm1", "GuestExecute",
             {"asst", "3", "sh", "-c", "dd if=/dev/vda bs=19 count=1 2>/dev/null", "", "20000000"});
    EXPECT_EQ(read.output, "s \"corral-base-content\"\n") << read.output << corraldLog();

    auto refused =
        call("vm1", "AttachDevice",
             {"ssa{sv}", "disk", "hp1", "2", "path", "s", hot.string(), "format", "s", "qcow2"});
    EXPECT_NE(refused.status, 0);
    EXPECT_NE(refused.output.find(hot.string() + " has a backing file (" + base.string() + ")"),
              std::string::npos)
        << refused.output;
    EXPECT_EQ(property("vm1", "State"), "s \"running\"");
    ASSERT_EQ(call("vm1", "Kill").status, 0) << corraldLog();
}

}  // namespace
}  // namespace corral::test

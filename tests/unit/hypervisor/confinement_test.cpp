#include "hypervisor/confinement.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "hypervisor/runtime_dir.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::hypervisor {
namespace {

TEST(UidRange, ParsesFirstDashLast) {
    std::string error;
    auto range = parseUidRange("70000-79999", error);
    ASSERT_TRUE(range) << error;
    EXPECT_EQ(range->first, 70000u);
    EXPECT_EQ(range->last, 79999u);
    auto single = parseUidRange("5-5", error);
    ASSERT_TRUE(single);
    EXPECT_EQ(single->last, 5u);
}

TEST(UidRange, RefusesMalformedEmptyReversedAndRoot) {
    for (const char* bad : {"", "70000", "70000-", "-5", "a-b", "5-4", "0-10", "1-4294967295",
                            "1 - 2", "1-2-3", "99999999999-100000000000"}) {
        std::string error;
        EXPECT_FALSE(parseUidRange(bad, error)) << bad;
        EXPECT_NE(error.find("is not a range FIRST-LAST"), std::string::npos)
            << bad << ": " << error;
    }
}

TEST(UidRange, ClashNamesTheAccountAndFile) {
    test::TempDir dir;
    std::ofstream(dir / "passwd")
        << "root:x:0:0::/root:/bin/sh\nalice:x:70010:100::/home:/bin/sh\n";
    std::ofstream(dir / "group") << "root:x:0:\nvms:x:79999:\n";
    auto user = uidRangeClash({70000, 79999}, dir / "passwd", dir / "group");
    ASSERT_TRUE(user);
    EXPECT_NE(user->find("user 'alice'"), std::string::npos) << *user;
    EXPECT_NE(user->find("70010"), std::string::npos) << *user;
    auto group = uidRangeClash({70011, 79999}, dir / "passwd", dir / "group");
    ASSERT_TRUE(group);
    EXPECT_NE(group->find("group 'vms'"), std::string::npos) << *group;
    EXPECT_FALSE(uidRangeClash({80000, 80100}, dir / "passwd", dir / "group"));
    EXPECT_FALSE(uidRangeClash({70000, 79999}, dir / "missing", dir / "missing"));
}

TEST(Confinement, ArgvDropsToTheUidInTheEmptyRoot) {
    EXPECT_EQ(
        confineArgv(70001, "/run/corral/.empty"),
        (std::vector<std::string>{"-sandbox", "on,obsolete=deny,spawn=deny,resourcecontrol=deny",
                                  "-runas", "70001:70001", "-chroot", "/run/corral/.empty"}));
    EXPECT_EQ(confinedUid(confineArgv(70001, "/x")), 70001u);
    EXPECT_FALSE(confinedUid({"qemu-system-x86_64", "-S"}));
}

void writeVm(const std::filesystem::path& root, const std::string& name,
             std::vector<std::string> argv) {
    auto paths = RuntimePaths::forInstance(root, name);
    createRuntimeDir(paths);
    RuntimeState state;
    state.argv = std::move(argv);
    state.pid = 1;
    ASSERT_FALSE(writeState(paths, state));
}

TEST(Confinement, AllocatesTheLowestUidNoOtherStateJsonHolds) {
    test::TempDir root;
    UidRange range{100, 102};
    EXPECT_EQ(allocateUid(root.path(), "vm1", range), 100u);
    writeVm(root.path(), "vm1", confineArgv(100, "/e"));
    writeVm(root.path(), "vm2", confineArgv(102, "/e"));
    writeVm(root.path(), "plain", {"qemu-system-x86_64"});  // unconfined: holds none
    EXPECT_EQ(allocateUid(root.path(), "vm3", range), 101u);
    // Its own dir does not count: that qemu is the one being replaced (a reboot).
    EXPECT_EQ(allocateUid(root.path(), "vm1", range), 100u);
    writeVm(root.path(), "vm3", confineArgv(101, "/e"));
    try {
        allocateUid(root.path(), "vm4", range);
        FAIL() << "allocated from an exhausted range";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("no free uid in [security] uid_range 100-102"),
                  std::string::npos)
            << e.what();
    }
    // A stopped VM's state.json is gone: its uid is free again.
    std::filesystem::remove(RuntimePaths::forInstance(root.path(), "vm2").stateFile);
    EXPECT_EQ(allocateUid(root.path(), "vm4", range), 102u);
}

TEST(Confinement, EmptyRootIsRootOwned0555AndMustStayEmpty) {
    test::TempDir root;
    auto empty = emptyRoot(root.path());
    EXPECT_EQ(empty, root.path() / ".empty");
    struct stat st {};
    ASSERT_EQ(::stat(empty.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0555u);
    EXPECT_EQ(emptyRoot(root.path()), empty);  // again: fine
    ::chmod(empty.c_str(), 0755);
    std::ofstream(empty / "stray") << "x";
    EXPECT_THROW(emptyRoot(root.path()), std::runtime_error);
}

}  // namespace
}  // namespace corral::hypervisor

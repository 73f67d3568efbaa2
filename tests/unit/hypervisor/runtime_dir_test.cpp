#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "hypervisor/runtime_dir.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::hypervisor {
namespace {

unsigned mode(const std::filesystem::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
}

TEST(RuntimeDir, CreatesDirWithMode0750AndStateWith0600) {
    test::TempDir root;
    auto paths = RuntimePaths::forInstance(root / "run", "vm1");
    createRuntimeDir(paths);
    EXPECT_EQ(mode(paths.dir), 0750u);
    EXPECT_EQ(writeState(paths, {{"qemu"}, 42, 7, {}}), std::nullopt);
    EXPECT_EQ(mode(paths.stateFile), 0600u);
    EXPECT_FALSE(std::filesystem::exists(paths.stateFile.string() + ".tmp"));
    removeRuntimeDir(paths);
    EXPECT_FALSE(std::filesystem::exists(paths.dir));
}

TEST(RuntimeDir, StateRoundTrips) {
    test::TempDir root;
    auto paths = RuntimePaths::forInstance(root.path(), "vm1");
    createRuntimeDir(paths);
    RuntimeState state{{"qemu-system-x86_64", "-name", "guest=vm1,x=\"q\""},
                       1234,
                       1700000000123456ull,
                       {{"root", "disk", {"pci.0", 3}, false, "/d/root.img"},
                        {"hot", "nic", {"corral-rp0", 0}, true, ""}}};
    ASSERT_EQ(writeState(paths, state), std::nullopt);
    std::string error;
    auto back = readState(paths, error);
    ASSERT_TRUE(back) << error;
    EXPECT_EQ(back->argv, state.argv);
    EXPECT_EQ(back->pid, 1234);
    EXPECT_EQ(back->startedAtUsec, 1700000000123456ull);
    ASSERT_EQ(back->devices.size(), 2u);
    EXPECT_EQ(back->devices[1].slot, (PciSlot{"corral-rp0", 0}));
    EXPECT_TRUE(back->devices[1].hotplugged);
    EXPECT_EQ(back->devices[0].path, "/d/root.img");
}

TEST(RuntimeDir, CorruptOrMissingStateIsAnErrorNotACrash) {
    test::TempDir root;
    auto paths = RuntimePaths::forInstance(root.path(), "vm1");
    createRuntimeDir(paths);
    std::string error;
    EXPECT_FALSE(readState(paths, error));
    EXPECT_NE(error.find("cannot open"), std::string::npos);
    for (const char* text : {"{", "[]", "{\"argv\":[1]}", "{\"argv\":[],\"pid\":1}"}) {
        std::ofstream(paths.stateFile) << text;
        EXPECT_FALSE(readState(paths, error)) << text;
        EXPECT_NE(error.find("state.json"), std::string::npos) << error;
    }
}

TEST(RuntimeDir, PidFile) {
    test::TempDir root;
    auto paths = RuntimePaths::forInstance(root.path(), "vm1");
    createRuntimeDir(paths);
    EXPECT_EQ(readPidFile(paths), std::nullopt);
    std::ofstream(paths.pidFile) << "4321\n";
    EXPECT_EQ(readPidFile(paths), 4321);
}

}  // namespace
}  // namespace corral::hypervisor

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

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

// A state.json record, field by field.
Device record(std::string id, std::string_view kind, PciSlot slot, bool hotplugged,
              std::string backend, Options options = {}) {
    Device device;
    device.id = std::move(id);
    device.kind = findKind(kind);
    device.slot = std::move(slot);
    device.hotplugged = hotplugged;
    device.backend = std::move(backend);
    device.options = std::move(options);
    return device;
}

TEST(RuntimeDir, StateRoundTripsEveryOptionOfEveryDevice) {
    test::TempDir root;
    auto paths = RuntimePaths::forInstance(root.path(), "vm1");
    createRuntimeDir(paths);
    RuntimeState state;
    state.argv = {"qemu-system-x86_64", "-name", "guest=vm1,x=\"q\""};
    state.pid = 1234;
    state.startedAtUsec = 1700000000123456ull;
    state.devices.push_back(record(
        "root", "disk", {"pci.0", 3}, false, "/d/root.img",
        {{"path", "/d/root.img"}, {"format", "qcow2"}, {"readonly", true}, {"cache", "none"}}));
    state.devices.push_back(
        record("hot", "nic", {"corral-rp0", 0}, true, "tap7",
               {{"mode", "bridge"}, {"bridge", "br0"}, {"mac", "52:54:00:00:00:07"}}));
    state.devices.push_back(record("corral-rp0", "root-port", {"pcie.0", 2}, false, ""));
    ASSERT_EQ(writeState(paths, state), std::nullopt);
    std::string error;
    auto back = readState(paths, error);
    ASSERT_TRUE(back) << error;
    EXPECT_EQ(back->argv, state.argv);
    EXPECT_EQ(back->pid, 1234);
    EXPECT_EQ(back->startedAtUsec, 1700000000123456ull);
    ASSERT_EQ(back->devices.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
        const auto& was = state.devices[i];
        const auto& is = back->devices[i];
        EXPECT_EQ(is.id, was.id);
        EXPECT_EQ(is.kind, was.kind) << was.id;
        EXPECT_EQ(is.slot, was.slot) << was.id;
        EXPECT_EQ(is.hotplugged, was.hotplugged) << was.id;
        EXPECT_EQ(is.backend, was.backend) << was.id;
        EXPECT_EQ(is.options, was.options) << was.id;
    }
}

// What the first corrald wrote: devices without their options. A corrald upgraded while VMs run
// reattaches to them with this file.
TEST(RuntimeDir, ReadsTheFirstFormat) {
    test::TempDir root;
    auto paths = RuntimePaths::forInstance(root.path(), "vm1");
    createRuntimeDir(paths);
    std::filesystem::copy_file(CORRAL_SOURCE_DIR "/tests/unit/hypervisor/state-v1.json",
                               paths.stateFile);
    std::string error;
    auto state = readState(paths, error);
    ASSERT_TRUE(state) << error;
    EXPECT_EQ(state->pid, 31337);
    EXPECT_EQ(state->startedAtUsec, 1764579600000000ull);
    EXPECT_EQ(state->shutdownDeadlineUsec, 0u);
    ASSERT_EQ(state->devices.size(), 6u);
    std::vector<std::string> kinds;
    for (const auto& d : state->devices) kinds.emplace_back(d.kindName());
    EXPECT_EQ(kinds, (std::vector<std::string>{"virtio-serial", "disk", "nic", "root-port",
                                               "root-port", "nic"}));
    const auto& disk = state->devices[1];
    EXPECT_EQ(disk.id, "root");
    EXPECT_EQ(disk.slot, (PciSlot{"pcie.0", 2}));
    EXPECT_EQ(disk.backend, "/var/lib/corral/disks/web1.qcow2");
    EXPECT_FALSE(disk.hotplugged);
    EXPECT_TRUE(disk.options.empty());
    const auto& hot = state->devices[5];
    EXPECT_EQ(hot.id, "eth1");
    EXPECT_EQ(hot.slot, (PciSlot{"corral-rp0", 0}));
    EXPECT_TRUE(hot.hotplugged);
    EXPECT_EQ(hot.backend, "tap3");

    // Written again (after the next attach), the devices keep what the first format had.
    ASSERT_EQ(writeState(paths, *state), std::nullopt);
    auto again = readState(paths, error);
    ASSERT_TRUE(again) << error;
    EXPECT_EQ(again->devices[5].backend, "tap3");
    EXPECT_EQ(again->devices[5].kind, findKind("nic"));
}

TEST(RuntimeDir, UnknownKindOrOptionTypeIsAnError) {
    test::TempDir root;
    auto paths = RuntimePaths::forInstance(root.path(), "vm1");
    createRuntimeDir(paths);
    std::string head = R"({"argv":["q"],"pid":1,"started_at_usec":1,"devices":[{"id":"x",)"
                       R"("bus":"pci.0","slot":3,"hotplugged":true,"path":"",)";
    std::string error;
    std::ofstream(paths.stateFile) << head << R"("kind":"floppy"}]})";
    EXPECT_FALSE(readState(paths, error));
    EXPECT_NE(error.find("unknown kind \"floppy\""), std::string::npos) << error;
    std::ofstream(paths.stateFile) << head << R"("kind":"disk","options":{"readonly":1}}]})";
    EXPECT_FALSE(readState(paths, error));
    EXPECT_NE(error.find("\"readonly\" is not a string or a boolean"), std::string::npos) << error;
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

std::string slurp(const std::filesystem::path& file) {
    std::ifstream in(file);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

RuntimeState bigState() {
    RuntimeState state{{"qemu-system-x86_64"}, 42, 7, {}};
    for (int i = 0; i < 200; ++i)
        state.devices.push_back(
            record("disk" + std::to_string(i), "disk", {"pci.0", 3}, true, "/d"));
    return state;
}

// A small tmpfs on `dir`, unmounted when the test ends (also when it fails).
class SmallTmpfs {
  public:
    explicit SmallTmpfs(std::filesystem::path dir) : dir_(std::move(dir)) {
        std::filesystem::create_directories(dir_);
        if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=64k") == 0)
            mounted_ = true;
        else
            error_ = std::strerror(errno);
    }
    ~SmallTmpfs() {
        if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
    }
    bool mounted() const { return mounted_; }
    const std::string& error() const { return error_; }

    // Writes zeros to <dir>/filler until the filesystem says ENOSPC.
    void fill() const {
        auto filler = dir_ / "filler";
        int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0) << std::strerror(errno);
        std::vector<char> zeros(4096);
        while (::write(fd, zeros.data(), zeros.size()) > 0) {
        }
        EXPECT_EQ(errno, ENOSPC);
        ::close(fd);
    }

  private:
    std::filesystem::path dir_;
    bool mounted_ = false;
    std::string error_;
};

TEST(RuntimeDir, FullFilesystemKeepsOldStateAndRemovesTemp) {
    test::TempDir root;
    SmallTmpfs tmpfs(root / "run");
    if (!tmpfs.mounted()) GTEST_SKIP() << "cannot mount a tmpfs: " << tmpfs.error();
    auto paths = RuntimePaths::forInstance(root / "run", "vm1");
    createRuntimeDir(paths);
    ASSERT_EQ(writeState(paths, {{"qemu"}, 42, 7, {}}), std::nullopt);
    auto before = slurp(paths.stateFile);
    tmpfs.fill();
    int fds = test::openFdCount();

    auto error = writeState(paths, bigState());
    ASSERT_TRUE(error);
    EXPECT_EQ(*error, "cannot write " + paths.stateFile.string() + ": No space left on device");
    EXPECT_EQ(slurp(paths.stateFile), before);
    EXPECT_FALSE(std::filesystem::exists(paths.stateFile.string() + ".tmp"));
    EXPECT_EQ(test::openFdCount(), fds);
    std::string why;
    auto back = readState(paths, why);
    ASSERT_TRUE(back) << why;
    EXPECT_EQ(back->pid, 42);
}

TEST(RuntimeDir, FailedRenameKeepsOldStateAndRemovesTemp) {
    test::TempDir root;
    auto paths = RuntimePaths::forInstance(root.path(), "vm1");
    createRuntimeDir(paths);
    // A directory where state.json should be: rename refuses it (root ignores modes, so a
    // read-only dir would not fail here).
    std::filesystem::create_directory(paths.stateFile);
    std::ofstream(paths.stateFile / "keep") << "old";

    auto error = writeState(paths, {{"qemu"}, 42, 7, {}});
    ASSERT_TRUE(error);
    EXPECT_EQ(*error, "cannot write " + paths.stateFile.string() + ": Is a directory");
    EXPECT_EQ(slurp(paths.stateFile / "keep"), "old");
    EXPECT_FALSE(std::filesystem::exists(paths.stateFile.string() + ".tmp"));
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

// The runtime dir fills up: corrald on a private bus with its runtime dir on a small real tmpfs
// that the test fills with a file. Start fails with the file and errno named and leaves nothing
// behind; an attach that cannot be recorded in state.json is rolled back; a detach while full
// leaves a stale state.json that a restarted corrald reconciles against QEMU.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "hypervisor/runtime_dir.hpp"
#include "tests/integration/supervisor/corrald_fixture.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;

std::vector<pid_t> allPids() {
    std::vector<pid_t> pids;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        auto name = entry.path().filename().string();
        if (!name.empty() && std::all_of(name.begin(), name.end(), ::isdigit))
            pids.push_back(std::atoi(name.c_str()));
    }
    return pids;
}

// Live (not zombie) processes with an argument containing `needle`.
std::vector<pid_t> processesWithArg(const std::string& needle) {
    std::vector<pid_t> found;
    for (pid_t pid : allPids()) {
        auto proc = std::filesystem::path("/proc") / std::to_string(pid);
        auto stat = readFile(proc / "stat");
        auto close = stat.rfind(')');
        if (close == std::string::npos || close + 2 >= stat.size() || stat[close + 2] == 'Z')
            continue;
        if (readFile(proc / "cmdline").find(needle) != std::string::npos) found.push_back(pid);
    }
    return found;
}

// Children of `parent`, zombies included (an unreaped qemu is a leak too).
std::vector<pid_t> childrenOf(pid_t parent) {
    std::vector<pid_t> found;
    for (pid_t pid : allPids()) {
        auto stat = readFile("/proc/" + std::to_string(pid) + "/stat");
        auto close = stat.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream fields(stat.substr(close + 2));
        char state = 0;
        pid_t ppid = 0;
        if (fields >> state >> ppid && ppid == parent) found.push_back(pid);
    }
    return found;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

class DiskFull : public CorraldFixture {
  protected:
    void SetUp() override {
        run_ = dir_ / "run";
        if (::mount("tmpfs", run_.c_str(), "tmpfs", 0, "size=4m,mode=0755") != 0)
            GTEST_SKIP() << "cannot mount a tmpfs on " << run_ << ": " << std::strerror(errno);
        mounted_ = true;
        paths_ = hypervisor::RuntimePaths::forInstance(run_, "vm1");
        writeGuest("vm1");
        startCorrald();
    }

    // The fixture kills qemu by the pids in the runtime dir: do it before the tmpfs goes, and
    // then detach it lazily (a dying qemu may still hold files in it).
    void TearDown() override {
        if (!mounted_) return;
        killCorrald();
        for (pid_t pid : processesWithArg(run_.string())) ::kill(pid, SIGKILL);
        auto deadline = std::chrono::steady_clock::now() + 10s;
        while (!processesWithArg(run_.string()).empty() &&
               std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(20ms);
        EXPECT_EQ(::umount2(run_.c_str(), MNT_DETACH), 0) << std::strerror(errno);
    }

    // Writes zeros to <run>/filler until the tmpfs says ENOSPC.
    void fill() {
        int fd = ::open((run_ / "filler").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0) << std::strerror(errno);
        // Page-sized writes: the last one that fits leaves no slack for anything else.
        std::vector<char> zeros(4096);
        while (::write(fd, zeros.data(), zeros.size()) > 0) {
        }
        int error = errno;
        ::close(fd);
        ASSERT_EQ(error, ENOSPC) << std::strerror(error);
    }

    void freeSpace() { std::filesystem::remove(run_ / "filler"); }

    std::string enospc() const {
        return "cannot write " + paths_.stateFile.string() + ": No space left on device";
    }

    // The runtime dir's state.json parses.
    void expectStateParses() {
        std::string why;
        EXPECT_TRUE(hypervisor::readState(paths_, why)) << why;
    }

    std::string qmp(const std::string& command) {
        return call("vm1", "Monitor", {"s", "{\"execute\":\"" + command + "\"}"}).output;
    }

    std::filesystem::path run_;
    hypervisor::RuntimePaths paths_;
    bool mounted_ = false;
};

TEST_F(DiskFull, StartWithFullRuntimeDirFailsCleanly) {
    fill();
    auto fds = openFdCount(corrald_.pid());

    auto start = call("vm1", "Start");
    EXPECT_NE(start.status, 0);
    EXPECT_TRUE(contains(start.output, enospc())) << start.output;
    EXPECT_TRUE(waitProperty("vm1", "State", "s \"stopped\"", 10s)) << property("vm1", "State");
    auto lastExit = property("vm1", "LastExit");
    EXPECT_TRUE(contains(lastExit, "start failed: " + enospc())) << lastExit;
    EXPECT_EQ(pid("vm1"), 0);
    EXPECT_TRUE(processesWithArg(paths_.qmpSocket.string()).empty());
    EXPECT_TRUE(childrenOf(corrald_.pid()).empty());
    EXPECT_EQ(openFdCount(corrald_.pid()), fds);
    EXPECT_FALSE(std::filesystem::exists(paths_.stateFile));
    EXPECT_FALSE(std::filesystem::exists(paths_.stateFile.string() + ".tmp"));

    freeSpace();
    auto again = call("vm1", "Start");
    ASSERT_EQ(again.status, 0) << again.output << corraldLog();
    EXPECT_EQ(property("vm1", "State"), "s \"running\"");
    EXPECT_EQ(processesWithArg(paths_.qmpSocket.string()), std::vector<pid_t>{pid("vm1")});
    expectStateParses();
}

TEST_F(DiskFull, AttachThatCannotBeRecordedIsRolledBackAndDetachIsReconciled) {
    ASSERT_EQ(call("vm1", "Start").status, 0) << corraldLog();
    // ACPI unplug (the rollback) needs the guest's cooperation: wait until it has booted.
    ASSERT_TRUE(waitProperty("vm1", "AgentConnected", "b true", 240s)) << corraldLog();
    auto image = dir_ / "data0.img";
    std::ofstream(image).close();
    std::filesystem::resize_file(image, 16 << 20);
    auto attachArgs = std::vector<std::string>{"ssa{sv}", "data0", image.string(), "0"};

    auto before = readFile(paths_.stateFile);
    fill();
    auto fds = openFdCount(corrald_.pid());
    auto attach = call("vm1", "AttachDisk", attachArgs);
    EXPECT_NE(attach.status, 0);
    EXPECT_TRUE(contains(attach.output, "disk data0 not attached: " + enospc())) << attach.output;
    std::smatch from;
    ASSERT_TRUE(std::regex_search(attach.output, from, std::regex("rolled back from ([^)]+)\\)")))
        << attach.output;
    EXPECT_EQ(readFile(paths_.stateFile), before);
    EXPECT_FALSE(std::filesystem::exists(paths_.stateFile.string() + ".tmp"));
    expectStateParses();
    EXPECT_FALSE(contains(property("vm1", "Devices"), "data0"));
    EXPECT_FALSE(contains(qmp("query-pci"), "data0"));
    EXPECT_FALSE(contains(qmp("query-named-block-nodes"), "data0"));
    EXPECT_EQ(openFdCount(corrald_.pid()), fds);
    auto nic = call("vm1", "AttachNic", {"sa{sv}", "net1", "1", "mode", "s", "user"});
    EXPECT_NE(nic.status, 0);
    EXPECT_TRUE(contains(nic.output, "nic net1 not attached: " + enospc())) << nic.output;
    EXPECT_FALSE(contains(property("vm1", "Devices"), "net1"));
    EXPECT_FALSE(contains(qmp("query-pci"), "net1"));
    EXPECT_EQ(readFile(paths_.stateFile), before);
    EXPECT_EQ(property("vm1", "State"), "s \"running\"");

    // With room again the same id attaches, in the slot the rollback gave back.
    freeSpace();
    attach = call("vm1", "AttachDisk", attachArgs);
    ASSERT_EQ(attach.status, 0) << attach.output << corraldLog();
    EXPECT_EQ(attach.output, "s \"" + from[1].str() + "\"\n");
    EXPECT_TRUE(contains(readFile(paths_.stateFile), "\"data0\""));

    // Detach while full: the device goes, state.json stays as it was (stale) and still parses.
    before = readFile(paths_.stateFile);
    fill();
    auto detach = call("vm1", "Detach", {"s", "data0"});
    EXPECT_EQ(detach.status, 0) << detach.output << corraldLog();
    EXPECT_FALSE(contains(property("vm1", "Devices"), "data0"));
    EXPECT_FALSE(contains(qmp("query-pci"), "data0"));
    EXPECT_EQ(readFile(paths_.stateFile), before);
    EXPECT_FALSE(std::filesystem::exists(paths_.stateFile.string() + ".tmp"));
    EXPECT_TRUE(contains(corraldLog(), enospc()));

    // A new corrald, still on a full disk, adopts the VM and forgets the device QEMU lacks.
    pid_t qemu = pid("vm1");
    killCorrald();
    startCorrald();
    ASSERT_TRUE(waitProperty("vm1", "State", "s \"running\"", 20s)) << corraldLog();
    EXPECT_EQ(pid("vm1"), qemu);
    EXPECT_FALSE(contains(property("vm1", "Devices"), "data0")) << corraldLog();
    EXPECT_TRUE(contains(corraldLog(), "device data0 in state.json is gone from QEMU"));

    freeSpace();
    attach = call("vm1", "AttachDisk", attachArgs);
    ASSERT_EQ(attach.status, 0) << attach.output << corraldLog();
    EXPECT_EQ(attach.output, "s \"" + from[1].str() + "\"\n");
    EXPECT_TRUE(contains(property("vm1", "Devices"), "\"data0\" \"disk\""));
    expectStateParses();
}

}  // namespace
}  // namespace corral::test

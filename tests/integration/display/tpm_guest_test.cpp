// [tpm] on a real guest (TCG) under corrald with a real swtpm: the guest sees a TPM 2.0 and it
// answers a command, swtpm is restarted with the VM and keeps its state, and a corrald restart
// adopts it (same pid, the guest's TPM still answers). No swtpm is left behind. swtpm runs
// confined as its qemu's uid: no capabilities, no_new_privs, its seccomp filter, its state
// directory given to that uid while it runs (one an older corrald left owned by root too) and
// back to root once it has ended.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/integration/supervisor/corrald_fixture.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;

// TPM2_GetRandom(8) as printf octal escapes, and what a TPM 2.0 answers: tag 8001, size 20,
// TPM_RC_SUCCESS, then the 8 bytes.
constexpr const char* kGetRandom =
    "exec 3<>/dev/tpm0; printf '\\200\\001\\000\\000\\000\\014\\000\\000\\001\\173\\000\\010' >&3;"
    " dd bs=64 count=1 <&3 2>/dev/null | od -An -tx1 | head -1";

class TpmGuest : public CorraldFixture {
  protected:
    TpmGuest() {
        extraConfig_ = "state_dir = \"" + (dir_ / "state").string() + "\"\n";
        std::ostringstream s;
        s << "[machine]\ntype = \"q35\"\naccel = \"tcg\"\nmemory = \"256M\"\nhotplug_slots = 1\n"
          << "[boot]\nkernel = \"" << guestKernel().string() << "\"\n"
          << "initrd = \"" << guestInitrd().string() << "\"\n"
          << "cmdline = \"console=ttyS0 panic=-1\"\n"
          << "[lifecycle]\nshutdown_timeout = \"3s\"\n[tpm]\ntype = \"tpm2\"\n";
        writeFile("vm1.toml", s.str());
    }
    ~TpmGuest() override {
        for (pid_t pid : swtpms_) ::kill(pid, SIGKILL);
    }
    pid_t swtpmPid() {
        std::ifstream in(dir_ / "run" / "vm1" / "swtpm.pid");
        pid_t pid = 0;
        in >> pid;
        if (pid > 0) swtpms_.push_back(pid);
        return pid;
    }
    static bool alive(pid_t pid) { return pid > 0 && ::kill(pid, 0) == 0; }
    bool waitGone(pid_t pid) {
        auto deadline = std::chrono::steady_clock::now() + 10s;
        while (std::chrono::steady_clock::now() < deadline) {
            // Not our child: gone once /proc no longer lists it (or it is a zombie of corrald's).
            std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
            std::string line;
            if (!std::getline(stat, line) || line.find(") Z ") != std::string::npos) return true;
            std::this_thread::sleep_for(50ms);
        }
        return false;
    }
    std::string guest(const std::string& shell) {
        return call("vm1", "GuestExecute", {"asst", "3", "sh", "-c", shell, "", "20000000"}).output;
    }
    void startAndWaitForAgent() {
        auto start = call("vm1", "Start");
        ASSERT_EQ(start.status, 0) << start.output << corraldLog();
        ASSERT_TRUE(waitProperty("vm1", "AgentConnected", "b true", 240s)) << corraldLog();
    }
    // The owner of `path` (uid; gid in `gid`), -1 when it cannot be read.
    static long owner(const std::filesystem::path& path, long* gid = nullptr) {
        struct stat st {};
        if (::lstat(path.c_str(), &st) != 0) return -1;
        if (gid) *gid = st.st_gid;
        return st.st_uid;
    }
    // swtpm runs as its qemu's uid, with nothing that could raise it again.
    void expectConfinedLikeItsQemu(pid_t swtpm) {
        auto qemu = procStatus(pid("vm1"));
        auto status = procStatus(swtpm);
        ASSERT_FALSE(status.empty()) << "no /proc/" << swtpm << "/status";
        auto uid = std::stoul(qemu["Uid"]);
        EXPECT_GE(uid, 70000u) << qemu["Uid"];
        EXPECT_EQ(status["Uid"], qemu["Uid"]);
        EXPECT_EQ(status["Gid"], qemu["Gid"]);
        EXPECT_EQ(status["Groups"], "");
        for (const char* caps : {"CapEff", "CapPrm", "CapInh", "CapAmb"})
            EXPECT_EQ(status[caps], "0000000000000000") << caps;
        EXPECT_EQ(status["NoNewPrivs"], "1");
        EXPECT_EQ(status["Seccomp"], "2");
        long gid = -1;
        auto tpm = dir_ / "state" / "vm1" / "tpm";
        EXPECT_EQ(owner(tpm, &gid), static_cast<long>(uid));
        EXPECT_EQ(gid, static_cast<long>(uid));
        for (const auto& entry : std::filesystem::directory_iterator(tpm))
            EXPECT_EQ(owner(entry.path()), static_cast<long>(uid)) << entry.path();
    }
    std::vector<pid_t> swtpms_;
};

TEST_F(TpmGuest, GuestSeesATpm2ThatSurvivesRestartsOfCorraldAndTheVm) {
    if (::geteuid() != 0) GTEST_SKIP() << "confinement needs corrald to run as root";
    // A state directory as an older corrald left it: root's, with a root-owned file in it.
    auto tpm = dir_ / "state" / "vm1" / "tpm";
    std::filesystem::create_directories(tpm);
    std::ofstream(tpm / "left-by-root") << "x";
    startCorrald();
    startAndWaitForAgent();
    auto first = swtpmPid();
    ASSERT_TRUE(alive(first)) << corraldLog();
    expectConfinedLikeItsQemu(first);
    EXPECT_EQ(guest("cat /sys/class/tpm/tpm0/tpm_version_major"), "s \"2\"\n") << corraldLog();
    EXPECT_EQ(guest("ls /dev/tpm0"), "s \"/dev/tpm0\"\n");
    EXPECT_NE(guest(kGetRandom).find("80 01 00 00 00 14 00 00 00 00"), std::string::npos)
        << guest(kGetRandom);

    killCorrald();
    startCorrald();
    ASSERT_TRUE(waitProperty("vm1", "State", "s \"running\"", 20s)) << corraldLog();
    EXPECT_EQ(swtpmPid(), first);
    EXPECT_TRUE(alive(first));
    expectConfinedLikeItsQemu(first);
    EXPECT_NE(corraldLog().find("adopted swtpm (pid " + std::to_string(first) + ")"),
              std::string::npos);
    ASSERT_TRUE(waitProperty("vm1", "AgentConnected", "b true", 60s)) << corraldLog();
    EXPECT_NE(guest(kGetRandom).find("80 01 00 00 00 14 00 00 00 00"), std::string::npos);

    ASSERT_EQ(call("vm1", "Kill").status, 0);
    ASSERT_TRUE(waitProperty("vm1", "State", "s \"stopped\"", 20s)) << property("vm1", "State");
    EXPECT_TRUE(waitGone(first)) << "swtpm outlived its qemu";
    auto permall = dir_ / "state" / "vm1" / "tpm" / "tpm2-00.permall";
    ASSERT_TRUE(std::filesystem::exists(permall)) << "no TPM state kept";
    EXPECT_GT(std::filesystem::file_size(permall), 0u);
    // Stopped: the uid may go to another VM, the state goes back to root.
    EXPECT_EQ(owner(tpm), 0);
    EXPECT_EQ(owner(permall), 0);

    startAndWaitForAgent();
    auto second = swtpmPid();
    EXPECT_TRUE(alive(second));
    EXPECT_NE(second, first);
    EXPECT_TRUE(std::filesystem::exists(permall));
    expectConfinedLikeItsQemu(second);
    EXPECT_EQ(guest("cat /sys/class/tpm/tpm0/tpm_version_major"), "s \"2\"\n");
    ASSERT_EQ(call("vm1", "Kill").status, 0);
    EXPECT_TRUE(waitGone(second));
}

TEST_F(TpmGuest, WithoutSwtpmTheStartSaysWhichPackageIsMissing) {
    // A PATH with busctl (for the fixture) and without swtpm; qemu by its absolute path.
    extraConfig_ += "[qemu]\nbinary = \"/usr/bin/qemu-system-x86_64\"\n";
    auto bin = dir_ / "bin";
    std::filesystem::create_directory(bin);
    std::filesystem::create_symlink("/usr/bin/busctl", bin / "busctl");
    {
        std::string saved = std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin";
        struct Restore {
            std::string path;
            ~Restore() { ::setenv("PATH", path.c_str(), 1); }
        } restore{saved};
        ::setenv("PATH", bin.c_str(), 1);  // inherited by corrald
        startCorrald();
    }
    auto start = call("vm1", "Start");
    EXPECT_NE(start.status, 0);
    EXPECT_NE(start.output.find("install the Debian package swtpm"), std::string::npos)
        << start.output;
    EXPECT_EQ(pid("vm1"), 0);
}

}  // namespace
}  // namespace corral::test

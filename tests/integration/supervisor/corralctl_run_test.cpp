// `corralctl run`, the main process of corral@.service: READY=1 once the VM runs, survives a
// corrald restart, exits 0 after a shutdown and 1 after a crash.
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "tests/integration/supervisor/corrald_fixture.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;

class CorralctlRun : public CorraldFixture {
  protected:
    Process run(const std::string& name) {
        return Process::spawn({std::string(CORRAL_BINARY_DIR) + "/supervisor/corralctl",
                               "--address", address_, "run", name},
                              dir_ / "run.log");
    }
    std::string runLog() const {
        std::ifstream in(dir_ / "run.log");
        std::stringstream s;
        s << in.rdbuf();
        return s.str();
    }
};

// A datagram socket standing in for systemd's NOTIFY_SOCKET.
class NotifySocket {
  public:
    explicit NotifySocket(const std::filesystem::path& path) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
        ok_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
        ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
    }
    ~NotifySocket() {
        ::unsetenv("NOTIFY_SOCKET");
        ::close(fd_);
    }
    bool ok() const { return ok_; }
    // The next notification, or "" after `timeout`.
    std::string receive(std::chrono::milliseconds timeout) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return "";
        char buf[512];
        ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
        return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
    }

  private:
    int fd_ = -1;
    bool ok_ = false;
};

TEST_F(CorralctlRun, ReadyWhenRunningSurvivesCorraldRestartExitsZeroAfterShutdown) {
    writeGuest("vm1");
    startCorrald();
    NotifySocket notify(dir_ / "notify");
    ASSERT_TRUE(notify.ok());
    auto follower = run("vm1");
    auto ready = notify.receive(60s);
    EXPECT_NE(ready.find("READY=1"), std::string::npos) << ready << runLog();
    EXPECT_EQ(property("vm1", "State"), "s \"running\"");
    pid_t vm = pid("vm1");
    ASSERT_GT(vm, 0);

    killCorrald();
    startCorrald();
    ASSERT_TRUE(waitProperty("vm1", "State", "s \"running\"", 30s)) << corraldLog();
    EXPECT_EQ(pid("vm1"), vm);
    EXPECT_TRUE(follower.running()) << runLog();

    EXPECT_EQ(call("vm1", "Shutdown", {"t", "0"}).status, 0);
    auto status = follower.wait(30s);
    ASSERT_TRUE(status) << runLog();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << runLog();
    EXPECT_NE(runLog().find("vm1: ended: host-shutdown"), std::string::npos) << runLog();
}

TEST_F(CorralctlRun, ExitsOneWhenTheVmCrashes) {
    writeGuest("vm1");
    startCorrald();
    auto follower = run("vm1");
    ASSERT_TRUE(waitProperty("vm1", "State", "s \"running\"", 60s)) << runLog();
    pid_t vm = pid("vm1");
    ASSERT_GT(vm, 0);
    ::kill(vm, SIGKILL);
    auto status = follower.wait(20s);
    ASSERT_TRUE(status) << runLog();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1) << runLog();
    EXPECT_NE(runLog().find("vm1: ended: crashed: killed by signal 9"), std::string::npos)
        << runLog();
}

// systemctl kill corral@NAME sends SIGTERM to corralctl run: the VM is shut down (never left
// running unfollowed) and corralctl exits 0 once it has stopped.
TEST_F(CorralctlRun, SigtermShutsTheVmDownAndExitsZeroWhenStopped) {
    writeGuest("vm1");
    startCorrald();
    auto follower = run("vm1");
    ASSERT_TRUE(waitProperty("vm1", "State", "s \"running\"", 60s)) << runLog();
    pid_t vm = pid("vm1");
    ASSERT_GT(vm, 0);
    ::kill(follower.pid(), SIGTERM);
    auto status = follower.wait(60s);
    ASSERT_TRUE(status) << runLog();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << runLog();
    EXPECT_EQ(property("vm1", "State"), "s \"stopped\"");
    EXPECT_NE(::kill(vm, 0), 0) << "qemu " << vm << " still runs";
    EXPECT_NE(runLog().find("vm1: asked to stop, shutting the VM down"), std::string::npos)
        << runLog();
}

// on_crash = "restart": the crash is followed, not ended on (the unit stays active).
TEST_F(CorralctlRun, FollowsARestartAfterACrash) {
    GuestOptions options;
    options.onCrash = "restart";
    writeGuest("vm1", options);
    startCorrald();
    auto follower = run("vm1");
    ASSERT_TRUE(waitProperty("vm1", "State", "s \"running\"", 60s)) << runLog();
    pid_t vm = pid("vm1");
    ::kill(vm, SIGKILL);
    ASSERT_TRUE(waitProperty("vm1", "State", "s \"crashed\"", 10s));
    ASSERT_TRUE(waitProperty("vm1", "State", "s \"running\"", 60s)) << corraldLog();
    EXPECT_NE(pid("vm1"), vm);
    EXPECT_TRUE(follower.running()) << runLog();
    EXPECT_NE(runLog().find("corrald restarts it (on_crash = restart), following"),
              std::string::npos)
        << runLog();
    EXPECT_EQ(call("vm1", "Shutdown", {"t", "0"}).status, 0);
    auto status = follower.wait(30s);
    ASSERT_TRUE(status) << runLog();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << runLog();
}

// A definition written after corrald's last Reload: run reloads once and starts it.
TEST_F(CorralctlRun, UnknownNameReloadsOnceAndStartsTheNewDefinition) {
    startCorrald();
    writeGuest("late");
    auto follower = run("late");
    ASSERT_TRUE(waitProperty("late", "State", "s \"running\"", 60s)) << runLog();
    EXPECT_NE(runLog().find("late: not known to corrald yet; reloading"), std::string::npos)
        << runLog();
    EXPECT_EQ(call("late", "Shutdown", {"t", "0"}).status, 0);
    auto status = follower.wait(30s);
    ASSERT_TRUE(status) << runLog();
}

// Host.ShutdownGuests: both VMs shut down at once, host-shutdown, reply lists them.
TEST_F(CorralctlRun, HostShutdownGuestsStopsEveryVmInParallel) {
    writeGuest("a");
    writeGuest("b");
    startCorrald();
    for (const char* vm : {"a", "b"}) EXPECT_EQ(call(vm, "Start").status, 0) << corraldLog();
    auto reply =
        busctl({"call", "org.corral1", "/org/corral1", "org.corral1.Host", "ShutdownGuests"}, 60s);
    EXPECT_EQ(reply.status, 0) << reply.output;
    EXPECT_EQ(reply.output, "asas 2 \"a\" \"b\" 0\n") << corraldLog();
    for (const char* vm : {"a", "b"}) {
        EXPECT_EQ(property(vm, "State"), "s \"stopped\"");
        EXPECT_EQ(property(vm, "LastExit").rfind("s \"host-shutdown", 0), 0u)
            << property(vm, "LastExit");
    }
    EXPECT_NE(corraldLog().find("host shutdown: shutting down 2 VM(s) in parallel (a, b)"),
              std::string::npos)
        << corraldLog();
}

}  // namespace
}  // namespace corral::test

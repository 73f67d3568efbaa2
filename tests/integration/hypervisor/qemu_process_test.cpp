// QemuProcess against real processes: exit status and signal through the pidfd, fd hygiene,
// own session, log file, and reattach accepting our qemu while refusing a foreign pid.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "hypervisor/qemu_process.hpp"
#include "tests/integration/hypervisor/run_async.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::hypervisor {
namespace {

using namespace std::chrono_literals;
using boost::asio::any_io_executor;
using boost::asio::awaitable;

std::string readFile(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

awaitable<ExitStatus> spawnAndWait(any_io_executor ex, std::vector<std::string> argv,
                                   std::filesystem::path log, std::vector<int> fds) {
    auto process = QemuProcess::spawn(ex, argv, log, fds);
    co_return co_await process.waitExit();
}

TEST(QemuProcess, ReportsExitCode) {
    boost::asio::io_context io;
    test::TempDir dir;
    auto status = test::runAsync(io, [&](any_io_executor ex) {
        return spawnAndWait(ex, {"sh", "-c", "echo hello; echo oops >&2; exit 3"}, dir / "log", {});
    });
    EXPECT_EQ(status.kind, ExitStatus::Kind::Exited);
    EXPECT_EQ(status.code, 3);
    EXPECT_EQ(status.describe(), "exited with status 3");
    EXPECT_EQ(readFile(dir / "log"), "hello\noops\n");
}

awaitable<ExitStatus> killAndWait(any_io_executor ex) {
    auto process = QemuProcess::spawn(ex, {"sleep", "30"}, "/dev/null");
    EXPECT_TRUE(process.kill(SIGTERM));
    auto status = co_await process.waitExit();
    EXPECT_FALSE(process.kill(SIGTERM));  // gone: no signal to a recycled pid
    co_return status;
}

TEST(QemuProcess, ReportsSignal) {
    boost::asio::io_context io;
    auto status = test::runAsync(io, killAndWait);
    EXPECT_EQ(status.kind, ExitStatus::Kind::Signaled);
    EXPECT_EQ(status.code, SIGTERM);
    EXPECT_EQ(status.describe(), "killed by signal 15");
}

TEST(QemuProcess, InheritsOnlyStdioAndPassedFdsInOwnSession) {
    boost::asio::io_context io;
    test::TempDir dir;
    int pipeFds[2];
    ASSERT_EQ(::pipe(pipeFds), 0);  // not O_CLOEXEC on purpose: must still not leak
    int passed = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    // The shell lists its fds (the listing's own fd is the dir fd of ls, excluded by
    // checking entries individually) and its session id (field 6 of /proc/self/stat).
    std::string script =
        "for f in 3 4 5 6 7 8 9; do [ -e /proc/$$/fd/$f ] && echo fd$f; done; "
        "cut -d' ' -f6 /proc/$$/stat; echo pid $$";
    auto status = test::runAsync(io, [&](any_io_executor ex) {
        return spawnAndWait(ex, {"sh", "-c", script}, dir / "log", {passed});
    });
    ::close(pipeFds[0]);
    ::close(pipeFds[1]);
    ::close(passed);
    EXPECT_EQ(status.kind, ExitStatus::Kind::Exited);
    std::istringstream out(readFile(dir / "log"));
    std::string fd, session, pidWord, pid;
    out >> fd >> session >> pidWord >> pid;
    EXPECT_EQ(fd, "fd3") << readFile(dir / "log");
    EXPECT_EQ(session, pid) << "not a session leader: " << readFile(dir / "log");
}

TEST(QemuProcess, SpawnOfMissingProgramThrows) {
    boost::asio::io_context io;
    EXPECT_THROW(QemuProcess::spawn(io.get_executor(), {"/nonexistent/qemu"}, "/dev/null"),
                 std::system_error);
}

// A `sleep 30` that is not our child (its parent shell exits), like a qemu left by a previous
// corrald; killed by pid when the test ends.
class Orphan {
  public:
    Orphan() {
        auto starter = test::Process::spawn({"sh", "-c", "sleep 30 & echo $!"}, dir_ / "pid");
        EXPECT_TRUE(starter.wait(5s));
        pid_ = std::stoi(readFile(dir_ / "pid"));
        auto deadline = std::chrono::steady_clock::now() + 5s;
        while (processCmdline(pid_) != std::vector<std::string>{"sleep", "30"} &&
               std::chrono::steady_clock::now() < deadline) {
            std::this_thread::yield();
        }
    }
    ~Orphan() { ::kill(pid_, SIGKILL); }
    pid_t pid() const { return pid_; }

  private:
    test::TempDir dir_;
    pid_t pid_ = -1;
};

TEST(QemuProcess, AdoptAcceptsMatchingCmdlineAndRefusesOthers) {
    boost::asio::io_context io;
    Orphan orphan;
    std::string why;
    auto adopted = QemuProcess::adopt(io.get_executor(), orphan.pid(), {"sleep", "30"}, why);
    ASSERT_TRUE(adopted) << why;
    EXPECT_FALSE(adopted->isChild());
    EXPECT_EQ(adopted->pid(), orphan.pid());

    auto foreign = QemuProcess::adopt(io.get_executor(), orphan.pid(),
                                      {"qemu-system-x86_64", "-name", "guest=vm1"}, why);
    EXPECT_FALSE(foreign);
    EXPECT_NE(why.find("command line differs"), std::string::npos) << why;

    EXPECT_FALSE(QemuProcess::adopt(io.get_executor(), ::getpid(), {"sleep", "30"}, why));
    EXPECT_FALSE(QemuProcess::adopt(io.get_executor(), 0x3ffffff, {"sleep", "30"}, why));
    EXPECT_NE(why.find("not running"), std::string::npos) << why;

    // Not our child: its end is seen through the pidfd, its status belongs to its parent.
    EXPECT_TRUE(adopted->kill(SIGKILL));
    auto status = test::runAsync(io, [&](any_io_executor) { return adopted->waitExit(); });
    EXPECT_EQ(status.kind, ExitStatus::Kind::Unknown);
}

}  // namespace
}  // namespace corral::hypervisor

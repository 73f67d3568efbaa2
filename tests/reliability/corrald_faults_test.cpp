// Faults around corrald's QMP connections and its own death, with real qemu and a real bus: a
// monitor that stops answering, a monitor held by another client across a corrald restart, and
// corrald SIGKILLed in the middle of Start and of Shutdown, or with state.json gone. Every case
// ends with exactly one qemu per instance and an instance corrald can drive again.
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <poll.h>
#include <chrono>
#include <fstream>
#include <iostream>
#include <string>

#include "tests/integration/supervisor/corrald_fixture.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// How many live processes have `needle` in their command line (qemu's names its runtime dir).
int processesMentioning(const std::string& needle) {
    int count = 0;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        auto name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        if (readFile(entry.path() / "cmdline").find(needle) != std::string::npos) ++count;
    }
    return count;
}

long long millisSince(Clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// A plain client of a QMP socket, as an administrator's socat would be.
class RawClient {
  public:
    explicit RawClient(const std::filesystem::path& socket) {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket.c_str());
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    }
    ~RawClient() { close(); }
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    bool connected() const { return connected_; }
    // Whatever arrives within `timeout` (stops early at the first newline).
    std::string readLine(std::chrono::milliseconds timeout) {
        std::string text;
        auto deadline = Clock::now() + timeout;
        while (text.find('\n') == std::string::npos && Clock::now() < deadline) {
            pollfd p{fd_, POLLIN, 0};
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (::poll(&p, 1, static_cast<int>(std::max<long long>(left.count(), 1))) <= 0) break;
            char buffer[4096];
            auto n = ::read(fd_, buffer, sizeof buffer);
            if (n <= 0) break;
            text.append(buffer, static_cast<std::size_t>(n));
        }
        return text;
    }

  private:
    int fd_ = -1;
    bool connected_ = false;
};

class CorraldFaults : public CorraldFixture {
  protected:
    // A VM with nothing to boot (an empty disk): cheap under TCG, and it ignores ACPI powerdown.
    void writeIdleVm(const std::string& name, const std::string& shutdownTimeout = "30s") {
        auto disk = dir_ / (name + ".img");
        std::filesystem::resize_file((std::ofstream(disk), disk), 1 << 20);
        writeFile(name + ".toml",
                  "[machine]\ntype = \"pc\"\naccel = \"tcg\"\nmemory = \"64M\"\n"
                  "[[disk]]\nid = \"root\"\npath = \"" +
                      disk.string() + "\"\n[lifecycle]\nshutdown_timeout = \"" + shutdownTimeout +
                      "\"\n");
    }

    std::filesystem::path runDir(const std::string& name) { return dir_ / "run" / name; }
    std::string qmpSocket(const std::string& name) { return (runDir(name) / "qmp.sock").string(); }

    void startVm(const std::string& name) {
        auto started = call(name, "Start");
        ASSERT_EQ(started.status, 0) << started.output << corraldLog();
        ASSERT_EQ(property(name, "State"), "s \"running\"");
    }

    // busctl started in the background: the reply (or the error) arrives later.
    Process callInBackground(const std::string& name, const std::string& method,
                             const std::string& log, std::vector<std::string> args = {}) {
        std::vector<std::string> argv = {
            "busctl", "--address",   address_,   "--timeout=60",
            "call",   "org.corral1", path(name), "org.corral1.Instance",
            method};
        argv.insert(argv.end(), args.begin(), args.end());
        return Process::spawn(argv, dir_ / log);
    }
};

TEST_F(CorraldFaults, UnresponsiveMonitorIsMarkedWhileOtherInstancesKeepWorking) {
    extraConfig_ = "[qemu]\ncommand_timeout = \"5s\"\n";
    writeIdleVm("stuck");
    writeIdleVm("fine");
    startCorrald();
    startVm("stuck");
    startVm("fine");
    EXPECT_EQ(property("stuck", "MonitorState"), "s \"connected\"");
    pid_t stuck = pid("stuck");
    ASSERT_GT(stuck, 0);

    // A stopped qemu reads nothing from its monitor: the Pause below waits for its timeout.
    ASSERT_EQ(::kill(stuck, SIGSTOP), 0);
    auto pausing = callInBackground("stuck", "Pause", "pause-stuck.out");
    auto began = Clock::now();
    // Meanwhile the other instance is served at once.
    long long slowest = 0;
    for (const char* method : {"Pause", "Resume", "Pause", "Resume"}) {
        auto start = Clock::now();
        auto result = call("fine", method);
        EXPECT_EQ(result.status, 0) << method << ": " << result.output;
        slowest = std::max(slowest, millisSince(start));
    }
    EXPECT_LT(slowest, 3000) << "the healthy instance was held up";
    std::cout << "healthy instance: slowest of 4 calls " << slowest << " ms\n";
    EXPECT_TRUE(pausing.running()) << "the stuck Pause should still wait for its timeout";

    auto status = pausing.wait(15s);
    ASSERT_TRUE(status.has_value()) << "Pause on a stopped qemu never returned";
    EXPECT_NE(*status, 0);
    auto answer = readFile(dir_ / "pause-stuck.out");
    EXPECT_NE(answer.find("Timeout"), std::string::npos) << answer;
    EXPECT_GE(millisSince(began), 4500);
    EXPECT_TRUE(waitProperty("stuck", "MonitorState", "s \"unresponsive\"", 5s))
        << property("stuck", "MonitorState") << corraldLog();
    EXPECT_EQ(property("stuck", "State"), "s \"running\"") << "nothing may be killed";
    EXPECT_EQ(::kill(stuck, 0), 0);
    EXPECT_EQ(property("fine", "MonitorState"), "s \"connected\"");

    // qemu runs again: the probe sees it answer, and the queued `stop` has been executed.
    ASSERT_EQ(::kill(stuck, SIGCONT), 0);
    EXPECT_TRUE(waitProperty("stuck", "MonitorState", "s \"connected\"", 10s))
        << property("stuck", "MonitorState") << corraldLog();
    EXPECT_TRUE(waitProperty("stuck", "State", "s \"paused\"", 5s)) << property("stuck", "State");
    auto resumed = call("stuck", "Resume");
    EXPECT_EQ(resumed.status, 0) << resumed.output;
    EXPECT_EQ(property("stuck", "State"), "s \"running\"");
    EXPECT_NE(corraldLog().find("marked unresponsive"), std::string::npos) << corraldLog();
}

TEST_F(CorraldFaults, MonitorHeldByAnotherClientAcrossACorraldRestart) {
    writeIdleVm("held");
    startCorrald();
    startVm("held");
    pid_t qemu = pid("held");

    // QEMU serves one monitor client at a time: a second one waits without a greeting, and
    // corrald's connection keeps working.
    RawClient intruder(qmpSocket("held"));
    ASSERT_TRUE(intruder.connected());
    EXPECT_EQ(intruder.readLine(500ms), "");
    EXPECT_EQ(call("held", "Pause").status, 0);
    EXPECT_EQ(call("held", "Resume").status, 0);

    // corrald dies: the waiting client gets the monitor.
    killCorrald();
    EXPECT_NE(intruder.readLine(10s).find("\"QMP\""), std::string::npos);

    // corrald comes back: the VM is adopted, marked disconnected, and calls say why.
    startCorrald();
    EXPECT_EQ(property("held", "State"), "s \"running\"") << corraldLog();
    EXPECT_EQ(pid("held"), qemu);
    EXPECT_EQ(property("held", "MonitorState"), "s \"disconnected\"");
    auto refused = call("held", "Pause");
    EXPECT_NE(refused.status, 0);
    EXPECT_NE(refused.output.find("no QMP connection"), std::string::npos) << refused.output;
    EXPECT_NE(refused.output.find(qmpSocket("held")), std::string::npos) << refused.output;

    // The other client leaves: corrald reconnects by itself.
    intruder.close();
    EXPECT_TRUE(waitProperty("held", "MonitorState", "s \"connected\"", 20s))
        << property("held", "MonitorState") << corraldLog();
    EXPECT_EQ(call("held", "Pause").status, 0);
    EXPECT_EQ(property("held", "State"), "s \"paused\"");
    EXPECT_EQ(processesMentioning(qmpSocket("held")), 1);
}

TEST_F(CorraldFaults, KilledDuringStartTheStartIsCompletedAfterRestart) {
    // A qemu wrapper that holds the start at a gate, so corrald can be killed while it waits for
    // the monitor; it then becomes qemu under the same pid and argv[0].
    auto gate = dir_ / "gate";
    ASSERT_EQ(::mkfifo(gate.c_str(), 0600), 0);
    auto wrapper = dir_ / "gated-qemu";
    std::ofstream(wrapper) << "#!/bin/bash\nread -r -t 30 _ <>'" << gate.string()
                           << "'\nexec -a \"$0\" qemu-system-x86_64 \"$@\"\n";
    std::filesystem::permissions(wrapper, std::filesystem::perms::owner_all);
    extraConfig_ = "[qemu]\nbinary = \"" + wrapper.string() + "\"\n";
    writeIdleVm("late");
    startCorrald();

    auto starting = callInBackground("late", "Start", "start-late.out");
    ASSERT_TRUE(waitForPath(runDir("late") / "state.json", 10s)) << corraldLog();
    EXPECT_EQ(property("late", "State"), "s \"starting\"");
    killCorrald();
    EXPECT_TRUE(starting.wait(10s).has_value()) << "the Start caller was never answered";

    std::ofstream(gate) << "go\n";
    ASSERT_TRUE(waitForPath(qmpSocket("late"), 10s));
    startCorrald();
    EXPECT_TRUE(waitProperty("late", "State", "s \"running\"", 10s))
        << property("late", "State") << corraldLog();
    auto status = call("late", "Monitor", {"s", R"({"execute": "query-status"})"});
    EXPECT_NE(status.output.find("\\\"status\\\":\\\"running\\\""), std::string::npos)
        << status.output;
    EXPECT_NE(corraldLog().find("completing a start"), std::string::npos) << corraldLog();
    EXPECT_EQ(processesMentioning(qmpSocket("late")), 1);
}

TEST_F(CorraldFaults, KilledDuringShutdownTheShutdownIsResumedAfterRestart) {
    writeIdleVm("slow", "6s");  // ignores ACPI: the shutdown escalates to quit after 6 s
    startCorrald();
    startVm("slow");
    pid_t qemu = pid("slow");
    auto stopping = callInBackground("slow", "Shutdown", "shutdown-slow.out", {"t", "0"});
    ASSERT_TRUE(waitProperty("slow", "State", "s \"shutting-down\"", 10s));
    killCorrald();
    EXPECT_TRUE(stopping.wait(10s).has_value());

    startCorrald();
    EXPECT_EQ(pid("slow"), qemu) << corraldLog();
    EXPECT_EQ(property("slow", "State"), "s \"shutting-down\"");
    EXPECT_EQ(processesMentioning(qmpSocket("slow")), 1);
    EXPECT_TRUE(waitProperty("slow", "State", "s \"stopped\"", 20s))
        << property("slow", "State") << corraldLog();
    EXPECT_NE(property("slow", "LastExit").find("quit"), std::string::npos)
        << property("slow", "LastExit");
    EXPECT_NE(corraldLog().find("resuming a shutdown"), std::string::npos) << corraldLog();
    EXPECT_EQ(processesMentioning(qmpSocket("slow")), 0);
}

TEST_F(CorraldFaults, QemuWithoutStateJsonIsAdoptedNotStartedTwice) {
    writeIdleVm("lost");
    startCorrald();
    startVm("lost");
    pid_t qemu = pid("lost");
    killCorrald();
    // As if corrald had died between spawning qemu and writing state.json.
    ASSERT_TRUE(std::filesystem::remove(runDir("lost") / "state.json"));

    startCorrald();
    EXPECT_EQ(property("lost", "State"), "s \"running\"") << corraldLog();
    EXPECT_EQ(pid("lost"), qemu);
    EXPECT_TRUE(std::filesystem::exists(runDir("lost") / "state.json"));
    auto again = call("lost", "Start");
    EXPECT_NE(again.status, 0);
    EXPECT_NE(again.output.find("already running"), std::string::npos) << again.output;
    EXPECT_EQ(processesMentioning(qmpSocket("lost")), 1);

    // And the rewritten state.json serves the next restart.
    killCorrald();
    startCorrald();
    EXPECT_EQ(pid("lost"), qemu) << corraldLog();
}

}  // namespace
}  // namespace corral::test

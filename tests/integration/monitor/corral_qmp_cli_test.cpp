// The corral-qmp CLI against a real paused QEMU: output and exit codes.
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace corral::test {
namespace {

using namespace std::chrono_literals;

class CorralQmpCliTest : public ::testing::Test {
  protected:
    void SetUp() override {
        qemu = Process::spawn(
            {"qemu-system-x86_64", "-S", "-accel", "tcg", "-machine", "q35", "-nodefaults",
             "-display", "none", "-qmp", "unix:" + socket.string() + ",server=on,wait=off"},
            dir / "qemu.log");
        ASSERT_TRUE(waitForPath(socket, 10s));
    }

    // Runs corral-qmp with `args`; returns {exit code, stdout+stderr}.
    std::pair<int, std::string> cli(std::vector<std::string> args) {
        args.insert(args.begin(), CORRAL_QMP_BINARY);
        auto log = dir / ("cli" + std::to_string(++runs) + ".log");
        auto process = Process::spawn(args, log);
        auto status = process.wait(20s);
        EXPECT_TRUE(status);
        std::ifstream in(log);
        std::stringstream text;
        text << in.rdbuf();
        return {status && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1, text.str()};
    }

    TempDir dir;
    std::filesystem::path socket = dir / "qmp.sock";
    Process qemu;
    int runs = 0;
};

TEST_F(CorralQmpCliTest, PrintsReplyAsJson) {
    auto [code, out] = cli({"--compact", socket.string(), "query-status"});
    EXPECT_EQ(code, 0);
    EXPECT_NE(out.find(R"("status":"prelaunch")"), std::string::npos) << out;
}

TEST_F(CorralQmpCliTest, QmpErrorExitsOneWithClassAndDesc) {
    auto [code, out] = cli({socket.string(), "device_del", R"({"id": "nope"})"});
    EXPECT_EQ(code, 1);
    EXPECT_NE(out.find("device_del: DeviceNotFound: Device 'nope' not found"), std::string::npos)
        << out;
}

TEST_F(CorralQmpCliTest, UsageErrorsExitTwo) {
    EXPECT_EQ(cli({}).first, 2);
    EXPECT_EQ(cli({"--bogus", socket.string()}).first, 2);
    EXPECT_EQ(cli({socket.string(), "device_del", "{not json"}).first, 2);
    EXPECT_EQ(cli({"--help"}).first, 0);
}

TEST_F(CorralQmpCliTest, UnreachableSocketExitsThree) {
    auto [code, out] = cli({"--timeout", "200ms", (dir / "missing.sock").string(), "query-status"});
    EXPECT_EQ(code, 3);
    EXPECT_NE(out.find("Connect"), std::string::npos) << out;
}

TEST_F(CorralQmpCliTest, TimeoutsOutsideTheirRangeAreUsageErrors) {
    for (const char* bad : {"1e3", "0", "-5s", "86401s", "99999999999999999s", "10m"})
        EXPECT_EQ(cli({"--timeout", bad, socket.string(), "query-status"}).first, 2) << bad;
    EXPECT_EQ(cli({"--timeout", "86400s", socket.string(), "query-status"}).first, 0);
}

// QEMU serves one monitor client at a time: a second one is accepted by the kernel but never
// greeted. --timeout bounds that wait too.
TEST_F(CorralQmpCliTest, HeldSocketFailsWithinTheTimeout) {
    int holder = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(holder, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, socket.c_str(), sizeof address.sun_path - 1);
    ASSERT_EQ(::connect(holder, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    auto begin = std::chrono::steady_clock::now();
    auto [code, out] = cli({"--timeout", "500ms", socket.string(), "query-status"});
    auto took = std::chrono::steady_clock::now() - begin;
    ::close(holder);
    EXPECT_EQ(code, 3) << out;
    EXPECT_LT(took, 5s) << out;  // the default 10 s greeting wait no longer applies
}

TEST_F(CorralQmpCliTest, HmpPassthrough) {
    auto [code, out] = cli({"--hmp", socket.string(), "info", "status"});
    EXPECT_EQ(code, 0);
    EXPECT_NE(out.find("VM status: paused"), std::string::npos) << out;
}

TEST_F(CorralQmpCliTest, ShellPrintsEventsWhileWaitingForInput) {
    // A second monitor on the same QEMU causes the events; the shell sits idle on its stdin.
    auto other = dir / "other.sock";
    auto second = Process::spawn(
        {"qemu-system-x86_64", "-S", "-accel", "tcg", "-machine", "q35", "-nodefaults", "-display",
         "none", "-qmp", "unix:" + other.string() + ",server=on,wait=off", "-qmp",
         "unix:" + (dir / "shell.sock").string() + ",server=on,wait=off"},
        dir / "second.log");
    ASSERT_TRUE(waitForPath(dir / "shell.sock", 10s));
    auto input = dir / "stdin";
    ASSERT_EQ(::mkfifo(input.c_str(), 0600), 0);
    int writer = ::open(input.c_str(), O_RDWR | O_CLOEXEC);  // keeps the shell's stdin open
    ASSERT_GE(writer, 0);
    auto log = dir / "shell.log";
    auto shell = Process::spawn({"sh", "-c", std::string("exec \"$0\" --compact \"$1\" < \"$2\""),
                                 CORRAL_QMP_BINARY, (dir / "shell.sock").string(), input.string()},
                                log);
    auto printed = [&] {
        std::ifstream in(log);
        return std::string(std::istreambuf_iterator<char>(in), {});
    };
    auto waitPrinted = [&](const std::string& text) {
        auto deadline = std::chrono::steady_clock::now() + 10s;
        while (printed().find(text) == std::string::npos &&
               std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(20ms);
        return printed().find(text) != std::string::npos;
    };
    // One command first: its reply proves the shell is connected and idle on its stdin.
    ASSERT_EQ(::write(writer, "query-status\n", 13), 13);
    ASSERT_TRUE(waitPrinted(R"("status":"prelaunch")")) << printed();
    auto [code, out] = cli({other.string(), "cont"});
    ASSERT_EQ(code, 0) << out;
    EXPECT_TRUE(waitPrinted(R"("event":"RESUME")"))
        << "no event printed while the shell waited for input: " << printed();
    ::close(writer);
    auto status = shell.wait(10s);
    ASSERT_TRUE(status);
    EXPECT_EQ(WEXITSTATUS(*status), 0);
}

}  // namespace
}  // namespace corral::test

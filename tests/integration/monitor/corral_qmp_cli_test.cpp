// The corral-qmp CLI against a real paused QEMU: output and exit codes.
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <fstream>
#include <sstream>

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

TEST_F(CorralQmpCliTest, HmpPassthrough) {
    auto [code, out] = cli({"--hmp", socket.string(), "info", "status"});
    EXPECT_EQ(code, 0);
    EXPECT_NE(out.find("VM status: paused"), std::string::npos) << out;
}

}  // namespace
}  // namespace corral::test

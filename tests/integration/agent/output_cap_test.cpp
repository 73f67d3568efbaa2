// The output cap of both daemons: by default any output whose reply fits in a message (16 MiB)
// comes back whole, more is a clear error, and --max-output sets a lower cap. negotiator-guest
// answers on a pty (its port), negotiator-host -d on a stand-in for QEMU's chardev socket.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "agent/rpc.hpp"
#include "tests/integration/agent/fake_qemu_socket.hpp"
#include "tests/integration/agent/guest_vm.hpp"
#include "tests/integration/agent/raw_pty.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kMiB = 1024 * 1024;

std::string executeFrame(std::size_t bytes) {
    return agent::encodeFrame(
        agent::encodeCall(agent::Call{"execute", {"big", std::to_string(bytes)}, {}}));
}

// The reply's text, or "error: <message>".
std::string outcome(const std::optional<std::string>& body) {
    if (!body) return "no reply";
    std::string problem;
    auto reply = agent::parseReply(*body, problem);
    if (!reply) return "bad reply: " + problem;
    if (!reply->success) return "error: " + reply->error;
    return std::get<std::string>(reply->result);
}

class OutputCap : public ::testing::Test {
  protected:
    void SetUp() override {
        std::filesystem::create_directory(dir_ / "cmds");
        std::ofstream(dir_ / "cmds" / "big")
            << "#!/bin/sh\nhead -c \"$1\" /dev/zero | tr '\\0' x\n";
        ::chmod((dir_ / "cmds" / "big").c_str(), 0755);
        std::ofstream(dir_ / "cmds" / "nuls") << "#!/bin/sh\nhead -c \"$1\" /dev/zero\n";
        ::chmod((dir_ / "cmds" / "nuls").c_str(), 0755);
    }
    // Runs negotiator-guest -d on a pty with `options` and returns what `big BYTES` answers.
    std::vector<std::string> guest(std::vector<std::string> options,
                                   std::vector<std::size_t> sizes) {
        RawPty port;
        std::vector<std::string> argv = {
            NEGOTIATOR_GUEST,        "-d", "-c", port.slavePath(), "--commands-dir",
            (dir_ / "cmds").string()};
        argv.insert(argv.end(), options.begin(), options.end());
        auto agent = Process::spawn(argv, dir_ / "guest.log");
        std::vector<std::string> out;
        for (auto size : sizes) {
            EXPECT_TRUE(port.write(executeFrame(size)));
            out.push_back(outcome(port.readFrame(60s)));
        }
        return out;
    }
    std::vector<std::string> host(std::vector<std::string> options,
                                  std::vector<std::size_t> sizes) {
        boost::asio::io_context io;
        auto socket = (dir_ / "g2h.sock").string();
        std::filesystem::remove(socket);
        FakeQemuSocket qemu(io, socket);
        std::vector<std::string> argv = {
            NEGOTIATOR_HOST, "-d", "--socket", socket, "--commands-dir", (dir_ / "cmds").string()};
        argv.insert(argv.end(), options.begin(), options.end());
        auto daemon = Process::spawn(argv, dir_ / "host.log");
        std::vector<std::string> out;
        if (!runOn(io, qemu.accept(10s))) return {"no connection"};
        for (auto size : sizes) {
            runOn(io, qemu.send(executeFrame(size)));
            out.push_back(outcome(runOn(io, qemu.receive(60s))));
        }
        return out;
    }

    TempDir dir_;
};

void expectDefaults(const std::vector<std::string>& answers) {
    ASSERT_EQ(answers.size(), 3u);
    EXPECT_EQ(answers[0], std::string(15 * kMiB, 'x'));
    // 16 MiB of output is allowed, but its reply is a few bytes too long for a message.
    EXPECT_EQ(answers[1].rfind("error: the reply of 16777244 bytes exceeds the message limit of "
                               "16777216 bytes",
                               0),
              0u)
        << answers[1].substr(0, 200);
    EXPECT_EQ(answers[2], "error: command 'big' wrote more than 16777216 bytes of output");
}

void expectCap(const std::vector<std::string>& answers) {
    ASSERT_EQ(answers.size(), 2u);
    EXPECT_EQ(answers[0], std::string(1000, 'x'));
    EXPECT_EQ(answers[1], "error: command 'big' wrote more than 1000 bytes of output");
}

TEST_F(OutputCap, GuestAgentReturnsWhatFitsAMessageByDefault) {
    expectDefaults(guest({}, {15 * kMiB, 16 * kMiB, 17 * kMiB}));
}

TEST_F(OutputCap, GuestAgentMaxOutputCapsLower) {
    expectCap(guest({"--max-output=1000"}, {1000, 1001}));
}

// Peak resident memory of a process, from /proc.
std::size_t peakKiB(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("VmHWM:", 0) == 0) return std::stoul(line.substr(6));
    return 0;
}

// The agent's peak while it refuses that reply: under 40 MiB plain, ~52 MiB with AddressSanitizer's
// shadow memory and quarantine; building the reply takes it past 116 MiB either way.
#ifdef __SANITIZE_ADDRESS__
constexpr unsigned kRefusedReplyPeakKiB = 90u * 1024;
#else
constexpr unsigned kRefusedReplyPeakKiB = 40u * 1024;
#endif

TEST_F(OutputCap, GuestAgentRefusesAnOverlongReplyWithoutBuildingIt) {
    // 8 MiB of NUL bytes is 48 MiB escaped: refused from its measure, not built (a guest of
    // 256 MiB was OOM-killed building such a reply for 15 MiB).
    RawPty port;
    auto agent = Process::spawn({NEGOTIATOR_GUEST, "-d", "-c", port.slavePath(), "--commands-dir",
                                 (dir_ / "cmds").string()},
                                dir_ / "guest.log");
    auto frame = agent::encodeFrame(
        agent::encodeCall(agent::Call{"execute", {"nuls", std::to_string(8 * kMiB)}, {}}));
    ASSERT_TRUE(port.write(frame));
    EXPECT_EQ(outcome(port.readFrame(60s)),
              "error: the reply of 50331676 bytes exceeds the message limit of 16777216 bytes");
    EXPECT_LT(peakKiB(agent.pid()), kRefusedReplyPeakKiB) << "the agent built the reply it refused";
}

TEST_F(OutputCap, HostDaemonReturnsWhatFitsAMessageByDefault) {
    expectDefaults(host({}, {15 * kMiB, 16 * kMiB, 17 * kMiB}));
}

TEST_F(OutputCap, HostDaemonMaxOutputCapsLower) {
    expectCap(host({"--max-output", "1000"}, {1000, 1001}));
}

}  // namespace
}  // namespace corral::test

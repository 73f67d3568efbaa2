// The bytes captured from python-negotiator 0.12.2 (tests/fixtures/negotiator) against our
// programs: our guest agent and our host daemon answer every request of the original's clients as
// its daemons did, and our CLIs, given its daemons' answers, send the same calls (after a probe
// that the original answers as any unknown method) and print and exit as its CLIs did. Ports are
// raw ptys (a virtio port for the guest side) and a stand-in for QEMU's chardev socket (the host
// side); no VM, no original needed.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <sstream>

#include "agent/codec.hpp"
#include "agent/rpc.hpp"
#include "tests/integration/agent/fake_qemu_socket.hpp"
#include "tests/integration/agent/guest_vm.hpp"
#include "tests/integration/agent/raw_pty.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/agent/negotiator_fixtures.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;

std::string commandsDir() {
    return (negotiatorFixtures() / "commands").string();
}

// Runs `argv` with stdout to `out` and stderr to `err` (kept apart: stdout is compared).
Process spawnSplit(std::vector<std::string> argv, const std::filesystem::path& out,
                   const std::filesystem::path& err) {
    std::vector<std::string> shell = {"sh", "-c", "exec \"$0\" \"$@\" 2>>\"$CORRAL_ERR\""};
    shell.insert(shell.end(), argv.begin(), argv.end());
    ::setenv("CORRAL_ERR", err.c_str(), 1);
    return Process::spawn(shell, out);
}

// Method and arguments of a request: what our CLIs must send as the original's did (its CLIs
// add capture=True, which ours leave out so that older agents, which refused it, still answer).
std::string callOf(const std::string& body) {
    auto parsed = agent::parseCall(body);
    auto* call = std::get_if<agent::Call>(&parsed);
    if (!call) return "not a call: " + body;
    agent::Call bare{call->method, call->args, {}};
    return agent::encodeCall(bare);
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::string line;
    for (std::istringstream in(text); std::getline(in, line);) out.push_back(line);
    return out;
}

class OriginalReplay : public ::testing::Test {
  protected:
    static void SetUpTestSuite() { cases_ = loadNegotiatorCases(); }
    std::vector<const NegotiatorCase*> select(const std::string& client,
                                              const std::string& server) const {
        std::vector<const NegotiatorCase*> out;
        for (const auto& c : cases_)
            if ((client.empty() || c.client == client) && (server.empty() || c.server == server))
                out.push_back(&c);
        return out;
    }
    // Checks what our CLI printed and how it exited against the original CLI's.
    void expectPrintedAsTheOriginal(const NegotiatorCase& c, Process& cli, bool sortedList) {
        auto status = cli.wait(20s);
        ASSERT_TRUE(status) << c.name << ": our CLI did not exit";
        EXPECT_EQ(WEXITSTATUS(*status), c.status.value_or(-1))
            << c.name << ": " << readFile(dir_ / "err.log");
        auto printed = readFile(dir_ / "out.log");
        if (sortedList) {
            // The original's guest CLI prints the host's order; ours sorts, as its host CLI does.
            auto expected = lines(*c.printed);
            std::sort(expected.begin(), expected.end());
            EXPECT_EQ(lines(printed), expected) << c.name;
        } else {
            EXPECT_EQ(printed, *c.printed) << c.name;
        }
        std::filesystem::remove(dir_ / "out.log");
        std::filesystem::remove(dir_ / "err.log");
    }

    static std::vector<NegotiatorCase> cases_;
    TempDir dir_;
};
std::vector<NegotiatorCase> OriginalReplay::cases_;

TEST_F(OriginalReplay, OurGuestAgentAnswersTheOriginalsRequestsAsItsGuestDid) {
    RawPty port;
    auto agent = Process::spawn({NEGOTIATOR_GUEST, "--daemon", "--character-device",
                                 port.slavePath(), "--commands-dir", commandsDir()},
                                dir_ / "agent.log");
    auto cases = select("", "guest");
    ASSERT_GE(cases.size(), 15u);
    for (const auto* c : cases) {
        ASSERT_TRUE(port.write(c->requestBytes));
        for (const auto& original : c->replies) {
            auto ours = port.readFrame(20s);
            ASSERT_TRUE(ours) << c->name << ": no answer\n" << readFile(dir_ / "agent.log");
            EXPECT_TRUE(sameOutcome(*ours, original, originalBuiltins())) << c->name;
        }
    }
}

TEST_F(OriginalReplay, OurHostDaemonAnswersTheOriginalsRequestsAsItsHostDid) {
    boost::asio::io_context io;
    auto socket = (dir_ / "g2h.sock").string();
    FakeQemuSocket qemu(io, socket);
    auto daemon = Process::spawn({NEGOTIATOR_HOST, "--daemon", "--socket", socket, "--name", "vm1",
                                  "--commands-dir", commandsDir()},
                                 dir_ / "daemon.log");
    ASSERT_TRUE(runOn(io, qemu.accept(10s)));
    auto cases = select("", "host");
    ASSERT_GE(cases.size(), 8u);
    for (const auto* c : cases) {
        runOn(io, qemu.send(c->requestBytes));
        for (const auto& original : c->replies) {
            auto ours = runOn(io, qemu.receive(20s));
            ASSERT_TRUE(ours) << c->name << ": no answer\n" << readFile(dir_ / "daemon.log");
            // Its host lists its built-in commands too; ours has none (and says so in --help).
            EXPECT_TRUE(sameOutcome(*ours, original, originalBuiltins())) << c->name;
        }
    }
    daemon.kill(SIGTERM);
    EXPECT_TRUE(daemon.wait(10s));
}

// The original's answer to a probe named `method` (its reply to handmade-probe, renamed).
std::string probeAnswer(const std::string& probe) {
    auto parsed = agent::parseCall(probe);
    auto* call = std::get_if<agent::Call>(&parsed);
    if (!call || call->method.rfind("corral_sync_", 0) != 0) return "not a probe: " + probe;
    for (const auto& c : loadNegotiatorCases()) {
        if (c.name != "handmade-probe") continue;
        auto reply = c.replies.at(0);
        return agent::encodeFrame(reply.replace(reply.find("corral_sync_1"), 13, call->method));
    }
    return "no handmade-probe fixture";
}

// Plays the original's guest daemon for our negotiator-host: answers its probe as the original
// does, checks each call, answers with the recorded reply (none for the case where the original
// CLI gave up first).
boost::asio::awaitable<std::vector<std::string>> answerAsTheOriginal(FakeQemuSocket& qemu,
                                                                     const NegotiatorCase& c) {
    std::vector<std::string> calls;
    if (!co_await qemu.accept(10s)) co_return calls;
    auto probe = co_await qemu.receive(10s);
    if (!probe) co_return calls;
    co_await qemu.send(probeAnswer(*probe));
    for (const auto& reply : c.replies) {
        auto request = co_await qemu.receive(10s);
        if (!request) co_return calls;
        calls.push_back(callOf(*request));
        if (!c.timedOut()) co_await qemu.send(agent::encodeFrame(reply));
    }
    co_return calls;
}

TEST_F(OriginalReplay, OurHostCliGivenTheOriginalsAnswersBehavesAsItsCli) {
    auto cases = select("host-cli", "");
    ASSERT_GE(cases.size(), 10u);
    for (const auto* c : cases) {
        boost::asio::io_context io;
        auto socket = (dir_ / "h2g.sock").string();
        FakeQemuSocket qemu(io, socket);
        std::vector<std::string> argv = {NEGOTIATOR_HOST, "--socket", socket};
        argv.insert(argv.end(), c->args.begin(), c->args.end());
        auto cli = spawnSplit(argv, dir_ / "out.log", dir_ / "err.log");
        auto calls = runOn(io, answerAsTheOriginal(qemu, *c));
        std::vector<std::string> expected;
        for (const auto& request : c->requests) expected.push_back(callOf(request));
        EXPECT_EQ(calls, expected) << c->name;
        expectPrintedAsTheOriginal(*c, cli, false);
        std::filesystem::remove(socket);
    }
}

TEST_F(OriginalReplay, OurGuestCliGivenTheOriginalsAnswersBehavesAsItsCli) {
    auto cases = select("guest-cli", "");
    ASSERT_GE(cases.size(), 8u);
    for (const auto* c : cases) {
        RawPty port;
        std::vector<std::string> argv = {NEGOTIATOR_GUEST};
        for (const auto& a : c->args) argv.push_back(a == "@PTY@" ? port.slavePath() : a);
        auto cli = spawnSplit(argv, dir_ / "out.log", dir_ / "err.log");
        std::vector<std::string> calls, expected;
        auto probe = port.readFrame(10s);
        ASSERT_TRUE(probe) << c->name << ": our CLI sent nothing";
        ASSERT_TRUE(port.write(probeAnswer(*probe))) << c->name;
        for (const auto& reply : c->replies) {
            auto request = port.readFrame(10s);
            ASSERT_TRUE(request) << c->name << ": our CLI sent nothing";
            calls.push_back(callOf(*request));
            if (!c->timedOut()) {
                ASSERT_TRUE(port.write(agent::encodeFrame(reply)));
            }
        }
        for (const auto& request : c->requests) expected.push_back(callOf(request));
        EXPECT_EQ(calls, expected) << c->name;
        bool list = calls.front().find("\"list_commands\"") != std::string::npos;
        expectPrintedAsTheOriginal(*c, cli, list);
    }
}

}  // namespace
}  // namespace corral::test

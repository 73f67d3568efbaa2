// The bytes captured from python-negotiator 0.12.2 (tests/fixtures/negotiator) against our
// programs: our guest agent and our host daemon answer every request of the original's clients as
// its daemons did, and our CLIs, given its daemons' answers, send the same calls and print and
// exit as its CLIs did. Ports are raw ptys (a virtio port for the guest side) and a stand-in
// for QEMU's chardev socket (the host side); no VM, no original needed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <sstream>

#include "agent/codec.hpp"
#include "agent/rpc.hpp"
#include "tests/integration/agent/fake_qemu_socket.hpp"
#include "tests/integration/agent/guest_vm.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/agent/negotiator_fixtures.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A pty in raw mode: the slave stands for the guest's virtio port, the test holds the master.
class RawPty {
  public:
    RawPty() {
        master_ = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master_ < 0 || ::grantpt(master_) != 0 || ::unlockpt(master_) != 0)
            throw std::runtime_error("no pty");
        slavePath_ = ::ptsname(master_);
        // Held open so that the master never reads EIO while no client has the port open.
        slave_ = ::open(slavePath_.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
        termios raw{};
        ::tcgetattr(slave_, &raw);
        ::cfmakeraw(&raw);
        ::tcsetattr(slave_, TCSANOW, &raw);
    }
    ~RawPty() {
        ::close(slave_);
        ::close(master_);
    }
    RawPty(const RawPty&) = delete;
    RawPty& operator=(const RawPty&) = delete;

    const std::string& slavePath() const { return slavePath_; }
    void write(const std::string& bytes) {
        ASSERT_EQ(::write(master_, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    }
    // The next frame's body written to the port, or nullopt when none comes within `timeout`.
    std::optional<std::string> readFrame(std::chrono::milliseconds timeout) {
        auto deadline = Clock::now() + timeout;
        for (;;) {
            if (auto event = decoder_.next()) return event->body;
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            pollfd p{master_, POLLIN, 0};
            if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0)
                return std::nullopt;
            char buffer[65536];
            auto n = ::read(master_, buffer, sizeof buffer);
            if (n <= 0) return std::nullopt;
            decoder_.feed(std::string_view(buffer, static_cast<std::size_t>(n)));
        }
    }

  private:
    int master_ = -1;
    int slave_ = -1;
    std::string slavePath_;
    agent::FrameDecoder decoder_;
};

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
        port.write(c->requestBytes);
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

// Plays the original's guest daemon for our negotiator-host: checks each call, answers with the
// recorded reply (none for the case where the original CLI gave up first).
boost::asio::awaitable<std::vector<std::string>> answerAsTheOriginal(FakeQemuSocket& qemu,
                                                                     const NegotiatorCase& c) {
    std::vector<std::string> calls;
    if (!co_await qemu.accept(10s)) co_return calls;
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
        for (const auto& reply : c->replies) {
            auto request = port.readFrame(10s);
            ASSERT_TRUE(request) << c->name << ": our CLI sent nothing";
            calls.push_back(callOf(*request));
            if (!c->timedOut()) port.write(agent::encodeFrame(reply));
        }
        for (const auto& request : c->requests) expected.push_back(callOf(request));
        EXPECT_EQ(calls, expected) << c->name;
        bool list = calls.front().find("\"list_commands\"") != std::string::npos;
        expectPrintedAsTheOriginal(*c, cli, list);
    }
}

}  // namespace
}  // namespace corral::test

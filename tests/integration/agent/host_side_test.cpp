// Host side against a stand-in for QEMU's chardev socket: HostResponder runs real commands from a
// commands directory; HostChannel copes with late replies, garbage and a vanished peer.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include <boost/asio/detached.hpp>

#include "agent/host_channel.hpp"
#include "agent/host_responder.hpp"
#include "agent/rpc.hpp"
#include "tests/integration/agent/fake_qemu_socket.hpp"
#include "tests/integration/agent/guest_vm.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using agent::Call;
using agent::encodeCall;
using agent::encodeFrame;

// Sends one call as the guest would and returns the reply body ("" on timeout).
asio::awaitable<std::string> guestCall(FakeQemuSocket& qemu, Call call) {
    co_await qemu.send(encodeFrame(encodeCall(call)));
    auto reply = co_await qemu.receive(20s);
    co_return reply.value_or("");
}

asio::awaitable<std::string> guestSendRaw(FakeQemuSocket& qemu, std::string bytes) {
    co_await qemu.send(std::move(bytes));
    auto reply = co_await qemu.receive(20s);
    co_return reply.value_or("");
}

class HostResponderTest : public ::testing::Test {
  protected:
    static constexpr auto kPartial = 300ms;
    void SetUp() override {
        std::filesystem::create_directory(dir_ / "cmds");
        script("who", "echo \"guest=$NEGOTIATOR_GUEST args=$*\"\ncat\n");
        script("fail", "echo 'it broke' >&2\nexit 5\n");
        script("slow", "sleep 30\n");
        script("flood", "yes\n");
        script("fds", "ls /proc/self/fd | wc -l\n");
        agent::HostResponder::Limits limits;
        limits.commandTimeout = 1s;
        limits.maxOutput = 100000;
        limits.reconnectDelay = 50ms;
        limits.partialTimeout = kPartial;
        responder_ = agent::HostResponder::create(io_.get_executor(), socket(), "vm1",
                                                  dir_ / "cmds", limits);
        responder_->start();
        ASSERT_TRUE(runOn(io_, qemu_.accept(10s)));
    }
    void TearDown() override { responder_->stop(); }
    void script(const std::string& name, const std::string& body) {
        std::ofstream(dir_ / "cmds" / name) << "#!/bin/sh\n" << body;
        ::chmod((dir_ / "cmds" / name).c_str(), 0755);
    }
    std::string socket() const { return (dir_ / "g2h.sock").string(); }
    std::string call(Call c) { return runOn(io_, guestCall(qemu_, std::move(c))); }

    TempDir dir_;
    asio::io_context io_;
    FakeQemuSocket qemu_{io_, socket()};
    std::shared_ptr<agent::HostResponder> responder_;
};

TEST_F(HostResponderTest, ListsCommands) {
    EXPECT_EQ(call({"list_commands", {}, {}}),
              R"({"success":true,"result":["fail","fds","flood","slow","who"]})");
}

TEST_F(HostResponderTest, RunsWithArgsInputAndGuestName) {
    auto reply = call({"execute", {"who", "a b", "\xC3\xBC"}, {{"input", "\xE2\x82\xAC\n"}}});
    EXPECT_EQ(reply, R"({"success":true,"result":"guest=vm1 args=a b \u00FC\n\u20AC\n"})");
}

TEST_F(HostResponderTest, FailureStatesExitCodeAndStderr) {
    EXPECT_EQ(call({"execute", {"fail"}, {}}),
              R"({"success":false,"error":"command 'fail' failed with exit code 5: it broke"})");
}

TEST_F(HostResponderTest, LooksUpTheBasenameInTheDirectoryOnly) {
    for (std::string name : {"..", "dir/", "."}) {
        auto reply = call({"execute", {name}, {}});
        EXPECT_NE(reply.find("refused command name"), std::string::npos) << reply;
    }
    for (std::string name : {"/bin/sh", "who/x"}) {
        auto reply = call({"execute", {name}, {}});
        EXPECT_NE(reply.find("unknown command"), std::string::npos) << reply;
    }
    EXPECT_EQ(call({"execute", {"../cmds/who", "x"}, {}}),
              R"({"success":true,"result":"guest=vm1 args=x"})");
    EXPECT_NE(call({"execute", {"sh", "-c", "id"}, {}}).find("unknown command 'sh'"),
              std::string::npos);
    EXPECT_NE(call({"execute", {}, {}}).find("needs a command name"), std::string::npos);
    EXPECT_NE(call({"reboot", {}, {}}).find("unknown method 'reboot'"), std::string::npos);
}

TEST_F(HostResponderTest, BoundsTimeAndOutput) {
    auto start = std::chrono::steady_clock::now();
    EXPECT_NE(call({"execute", {"slow"}, {}}).find("timed out"), std::string::npos);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
    EXPECT_NE(call({"execute", {"flood"}, {}}).find("more than 100000 bytes"), std::string::npos);
    EXPECT_EQ(call({"list_commands", {}, {}}).find("\"success\":true"), 1u);
}

TEST_F(HostResponderTest, CommandsInheritOnlyTheirPipes) {
    // ls itself opens the directory: stdin, stdout, stderr and that one.
    EXPECT_EQ(call({"execute", {"fds"}, {}}), R"({"success":true,"result":"4"})");
}

TEST_F(HostResponderTest, BadFramingIsAnsweredThenTheConnectionStartsAfresh) {
    auto fdsBefore = openFdCount();
    auto reply = runOn(io_, guestSendRaw(qemu_, "garbage\n"));
    EXPECT_NE(reply.find("invalid length line"), std::string::npos) << reply;
    EXPECT_TRUE(runOn(io_, qemu_.closedByPeer(5s)));
    ASSERT_TRUE(runOn(io_, qemu_.accept(5s)));
    reply = runOn(io_, guestSendRaw(qemu_, "5\n[1,2]"));
    EXPECT_NE(reply.find("not a JSON object"), std::string::npos) << reply;
    reply = runOn(io_, guestSendRaw(qemu_, "999999999\n"));
    EXPECT_NE(reply.find("exceeds the limit"), std::string::npos) << reply;
    ASSERT_TRUE(runOn(io_, qemu_.accept(5s)));
    EXPECT_EQ(call({"list_commands", {}, {}}).find("\"success\":true"), 1u);
    EXPECT_EQ(openFdCount(), fdsBefore);
}

TEST_F(HostResponderTest, HalfAMessageTimesOutAndTheNextRequestIsAnswered) {
    // A guest that died mid-write: its half frame must not swallow the next guest's request.
    runOn(io_, qemu_.send("100\n{\"method\": \"execute\", \"args\": [\"wh"));
    io_.restart();
    io_.run_for(kPartial + 200ms);  // the silence under test: no event marks its end
    EXPECT_EQ(call({"execute", {"who", "next"}, {}}),
              R"({"success":true,"result":"guest=vm1 args=next"})");
}

TEST_F(HostResponderTest, AReplyIsNotSentToAGuestThatAskedAgainMeanwhile) {
    // python-negotiator's guest CLI on its -t: it gives up, the next one asks anew.
    script("nap", "touch \"$1\"; sleep 0.5; echo late\n");
    auto started = dir_ / "nap-started";
    runOn(io_, qemu_.send(encodeFrame(encodeCall({"execute", {"nap", started.string()}, {}}))));
    io_.restart();
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!std::filesystem::exists(started) && std::chrono::steady_clock::now() < deadline)
        io_.run_one_for(10ms);
    ASSERT_TRUE(std::filesystem::exists(started));
    EXPECT_EQ(call({"execute", {"who", "again"}, {}}),
              R"({"success":true,"result":"guest=vm1 args=again"})");
}

TEST_F(HostResponderTest, ReconnectsWhenQemuDropsTheSocket) {
    qemu_.disconnect();
    ASSERT_TRUE(runOn(io_, qemu_.accept(5s)));
    EXPECT_EQ(call({"list_commands", {}, {}}).find("\"success\":true"), 1u);
}

// The guest side of a HostChannel test: answers each request with `replies` in order.
asio::awaitable<void> answer(FakeQemuSocket& qemu, std::vector<std::string> replies) {
    for (auto& reply : replies) {
        auto request = co_await qemu.receive(20s);
        if (!request) co_return;
        co_await qemu.send(reply);
    }
}

asio::awaitable<void> spawnAnswer(asio::io_context& io, FakeQemuSocket& qemu,
                                  std::vector<std::string> replies) {
    asio::co_spawn(io, answer(qemu, std::move(replies)), asio::detached);
    co_return;
}

class HostChannelTest : public ::testing::Test {
  protected:
    void SetUp() override {
        channel_ = agent::HostChannel::create(io_.get_executor(), socket());
        auto accepted = asio::co_spawn(io_, qemu_.accept(10s), asio::use_future);
        auto connected = runOn(io_, channel_->connect(5s));
        ASSERT_TRUE(connected) << connected.error().message;
        ASSERT_TRUE(drive(io_, accepted));
    }
    std::string socket() const { return (dir_ / "h2g.sock").string(); }

    TempDir dir_;
    asio::io_context io_;
    FakeQemuSocket qemu_{io_, socket()};
    std::shared_ptr<agent::HostChannel> channel_;
};

TEST_F(HostChannelTest, LateReplyAfterTimeoutIsNeverTakenForTheNextCall) {
    runOn(io_, spawnAnswer(io_, qemu_, {}));
    auto first = runOn(io_, channel_->execute({"slow"}, std::nullopt, 200ms));
    ASSERT_FALSE(first);
    EXPECT_EQ(first.error().kind, Errc::Timeout);
    // The guest now answers the old call late, then the probe, then the new call.
    auto late = encodeFrame(R"({"success":true,"result":"stale"})");
    auto probe = encodeFrame(R"({"success":false,"error":"unknown method 'corral_sync_1'"})");
    auto fresh = encodeFrame(R"({"success":true,"result":"fresh"})");
    runOn(io_, spawnAnswer(io_, qemu_, {late + probe, fresh}));
    auto second = runOn(io_, channel_->execute({"echo"}, std::nullopt, 5s));
    ASSERT_TRUE(second) << second.error().message;
    EXPECT_EQ(*second, "fresh");
}

TEST_F(HostChannelTest, GarbageReplyIsAProtocolErrorAndReconnects) {
    runOn(io_, spawnAnswer(io_, qemu_, {"nonsense\n"}));
    auto r = runOn(io_, channel_->listCommands(5s));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Errc::Protocol);
    EXPECT_FALSE(channel_->connected());
}

TEST_F(HostChannelTest, RemoteErrorCarriesTheGuestMessage) {
    runOn(io_, spawnAnswer(io_, qemu_, {encodeFrame(R"({"success":false,"error":"nope"})")}));
    auto r = runOn(io_, channel_->execute({"x"}, std::string("in"), 5s));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Errc::Remote);
    EXPECT_EQ(r.error().message, "nope");
}

TEST_F(HostChannelTest, PeerGoneIsDisconnected) {
    qemu_.disconnect();
    auto r = runOn(io_, channel_->listCommands(5s));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Errc::Disconnected);
}

TEST(HostChannelConnect, MissingSocketFailsWithinTheWindow) {
    TempDir dir;
    asio::io_context io;
    auto channel = agent::HostChannel::create(io.get_executor(), (dir / "none.sock").string());
    auto start = std::chrono::steady_clock::now();
    auto r = runOn(io, channel->connect(300ms));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Errc::Connect);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

}  // namespace
}  // namespace corral::test

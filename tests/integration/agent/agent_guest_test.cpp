// End to end with the real guest image under TCG: our HostChannel talks to our negotiator-guest
// over QEMU's virtio-serial ports, and the guest calls our HostResponder.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <regex>

#include "agent/codec.hpp"
#include "agent/error.hpp"
#include "agent/host_channel.hpp"
#include "agent/host_responder.hpp"
#include "agent/rpc.hpp"
#include "tests/integration/agent/guest_vm.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;
using agent::HostChannel;
using agent::HostResponder;
using Strings = std::vector<std::string>;

// list_commands' answer: the image's built-in commands and `user` (sorted, as the agent sends it).
Strings withBuiltins(Strings user) {
    for (const char* name :
         {"find-disk-usage", "find-distribution-codename", "find-distribution-release",
          "find-distributor-id", "find-ip-addresses"})
        user.emplace_back(name);
    std::sort(user.begin(), user.end());
    return user;
}

// Installs a shell script in the guest's user commands directory (body uses printf escapes).
void installGuestCommand(GuestVm& vm, const std::string& name, const std::string& body) {
    auto path = "/usr/lib/negotiator/commands/" + name;
    auto out = vm.console().run(
        "printf '#!/bin/sh\\n" + body + "' > " + path + " && chmod 755 " + path, 20s);
    ASSERT_TRUE(out && out->status == 0) << vm.console().transcript();
}

class AgentGuest : public ::testing::Test {
  protected:
    void SetUp() override {
        vm_ = std::make_unique<GuestVm>("pc");
        channel_ = HostChannel::create(io_.get_executor(), vm_->hostToGuest());
        auto connected = runOn(io_, channel_->connect(10s));
        ASSERT_TRUE(connected) << connected.error().message;
    }
    agent::Result<std::string> execute(Strings argv, std::optional<std::string> input = {},
                                       std::chrono::milliseconds timeout = 30s) {
        return runOn(io_, channel_->execute(std::move(argv), std::move(input), timeout));
    }
    agent::Result<Strings> listCommands(std::chrono::milliseconds timeout = 30s) {
        return runOn(io_, channel_->listCommands(timeout));
    }
    std::string agentPid() {
        auto out = vm_->console().run("pidof negotiator-guest", 20s);
        if (!out) return "";
        auto pid = out->text;
        while (!pid.empty() && std::isspace(static_cast<unsigned char>(pid.back()))) pid.pop_back();
        return pid;
    }
    // True once an agent other than `old` has the host-to-guest port open (bounded: 30 s).
    bool agentHoldsPort(const std::string& old) {
        auto out = vm_->console().run(
            "(i=0; while [ $i -lt 300 ]; do n=$(pidof negotiator-guest); "
            "[ -n \"$n\" ] && [ \"$n\" != " +
                old +
                " ] && ls -l /proc/$n/fd 2>/dev/null | grep -q vport0p1 && exit 0; "
                "i=$((i+1)); sleep 0.1; done; exit 1)",
            40s);
        return out && out->status == 0;
    }

    boost::asio::io_context io_;
    std::unique_ptr<GuestVm> vm_;
    std::shared_ptr<HostChannel> channel_;
};

TEST_F(AgentGuest, HostCallsGuestCommands) {
    installGuestCommand(*vm_, "greet", "echo \"args: $*\"\\ncat\\n");
    installGuestCommand(*vm_, "lines", "for i in 1 2 3; do echo line $i; done\\n");
    installGuestCommand(*vm_, "fail", "echo \"bad thing\" >&2\\nexit 3\\n");

    auto names = listCommands();
    ASSERT_TRUE(names) << names.error().message;
    EXPECT_EQ(*names, withBuiltins({"fail", "greet", "lines"}));

    std::string unicode = "h\xC3\xA9llo w\xC3\xB6rld \xE2\x82\xAC \xF0\x9F\x98\x80\n";
    auto greeted = execute({"greet", "a b", "\xC3\xBC"}, unicode);
    ASSERT_TRUE(greeted) << greeted.error().message;
    EXPECT_EQ(*greeted, "args: a b \xC3\xBC\n" + unicode);

    auto lines = execute({"lines"});
    ASSERT_TRUE(lines) << lines.error().message;
    EXPECT_EQ(*lines, "line 1\nline 2\nline 3\n");

    auto failed = execute({"fail"});
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().kind, Errc::Remote);
    EXPECT_EQ(failed.error().message, "command 'fail' failed with exit code 3: bad thing");

    // Found by basename in the command directories first, like the original agent...
    auto byPath = execute({"/elsewhere/lines"});
    ASSERT_TRUE(byPath) << byPath.error().message;
    EXPECT_EQ(*byPath, "line 1\nline 2\nline 3\n");
    // ...and otherwise from PATH.
    auto outside = execute({"echo", "plain"});
    ASSERT_TRUE(outside) << outside.error().message;
    EXPECT_EQ(*outside, "plain");
}

TEST_F(AgentGuest, TimeoutsLeaveTheChannelUsable) {
    installGuestCommand(*vm_, "slow", "sleep 30\\n");
    installGuestCommand(*vm_, "say", "echo \"$@\"\\n");
    // The host gives up first; the guest's late reply must not be taken for the next call's.
    auto early = execute({"slow"}, std::nullopt, 1s);
    ASSERT_FALSE(early);
    EXPECT_EQ(early.error().kind, Errc::Timeout);
    auto names = listCommands(40s);
    ASSERT_TRUE(names) << names.error().message;
    EXPECT_EQ(*names, withBuiltins({"say", "slow"}));

    // The guest agent's own limit (-t in daemon mode) kills the command and says so.
    auto pid = agentPid();
    ASSERT_FALSE(pid.empty());
    auto restart = vm_->console().run(
        "kill " + pid + " && (negotiator-guest --daemon -t 3 >/tmp/ng2.log 2>&1 &)", 20s);
    ASSERT_TRUE(restart && restart->status == 0) << vm_->console().transcript();
    // A request that reaches the guest before the new agent holds the port is lost with the old
    // agent's port (the guest kernel drops what a closed port had queued): wait for it.
    ASSERT_TRUE(agentHoldsPort(pid)) << vm_->console().transcript();
    auto limited = execute({"slow"}, std::nullopt, 40s);
    ASSERT_FALSE(limited);
    EXPECT_EQ(limited.error().kind, Errc::Remote);
    EXPECT_NE(limited.error().message.find("timed out"), std::string::npos)
        << limited.error().message;
    auto after = execute({"say", "still here"});
    ASSERT_TRUE(after) << after.error().message;
    EXPECT_EQ(*after, "still here");
}

TEST_F(AgentGuest, GuestCallsHostCommands) {
    auto commands = vm_->dir() / "host-commands";
    std::filesystem::create_directory(commands);
    auto script = [&](const std::string& name, const std::string& body) {
        std::ofstream(commands / name) << "#!/bin/sh\n" << body;
        ::chmod((commands / name).c_str(), 0755);
    };
    script("hostcmd", "echo \"guest=$NEGOTIATOR_GUEST args=$*\"\n");
    script("hostfail", "echo 'host says no' >&2\nexit 4\n");
    installGuestCommand(*vm_, "to-host", "exec negotiator-guest \"$@\"\\n");
    auto responder =
        HostResponder::create(io_.get_executor(), vm_->guestToHost(), "testvm", commands);
    responder->start();

    auto listed = execute({"to-host", "-l"});
    ASSERT_TRUE(listed) << listed.error().message;
    EXPECT_EQ(*listed, "hostcmd\nhostfail\n");

    auto ran = execute({"to-host", "-e", "hostcmd a 'b c'"});
    ASSERT_TRUE(ran) << ran.error().message;
    EXPECT_EQ(*ran, "guest=testvm args=a b c");

    auto failed = execute({"to-host", "--execute=hostfail"});
    ASSERT_FALSE(failed);
    EXPECT_NE(
        failed.error().message.find("command 'hostfail' failed with exit code 4: host says no"),
        std::string::npos)
        << failed.error().message;

    // Found by basename in the host's directory, as the original host does; nothing else runs.
    auto byPath = execute({"to-host", "-e", "../hostcmd x"});
    ASSERT_TRUE(byPath) << byPath.error().message;
    EXPECT_EQ(*byPath, "guest=testvm args=x");
    for (std::string bad : {"/bin/true", "missing"}) {
        auto refused = execute({"to-host", "-e", bad});
        ASSERT_FALSE(refused) << bad;
        EXPECT_TRUE(refused.error().message.find("refused") != std::string::npos ||
                    refused.error().message.find("unknown command") != std::string::npos)
            << refused.error().message;
    }
    responder->stop();
}

// A new connection to a channel socket, or -1.
int connectTo(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// Sends raw bytes on a fresh connection to the host->guest socket and returns what comes back.
std::string rawExchange(const std::string& path, const std::string& bytes) {
    int fd = connectTo(path);
    if (fd < 0) return "connect failed";
    timeval tv{20, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    (void)!::write(fd, bytes.data(), bytes.size());
    std::string reply;
    char buffer[4096];
    while (reply.find('}') == std::string::npos) {
        auto n = ::read(fd, buffer, sizeof buffer);
        if (n <= 0) break;
        reply.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return reply;
}

TEST_F(AgentGuest, AHostThatGaveUpIsNotAnsweredWhenTheNextOneAsks) {
    // What python-negotiator's CLI does on its -t: it closes the socket and the next CLI
    // connects anew. The late answer to the abandoned call must not be the next CLI's answer.
    channel_->close();
    int fd = connectTo(vm_->hostToGuest());
    ASSERT_GE(fd, 0);
    auto abandoned = agent::encodeFrame(agent::encodeCall(
        {"execute", {"sh", "-c", "echo abandoned-call-runs >/dev/console; sleep 3"}, {}}));
    ASSERT_EQ(::write(fd, abandoned.data(), abandoned.size()),
              static_cast<ssize_t>(abandoned.size()));
    ASSERT_TRUE(vm_->console().waitFor(std::regex("abandoned-call-runs"), 20s))
        << vm_->console().transcript();
    ::close(fd);  // gives up while the command runs
    // The next CLI is a new process: by the time it connects the agent has seen the hangup.
    bool seen = false;
    for (auto deadline = std::chrono::steady_clock::now() + 20s;
         !seen && std::chrono::steady_clock::now() < deadline;) {
        auto log = vm_->console().run("grep -c 'hung up' /tmp/negotiator-guest.log", 10s);
        seen = log && log->status == 0;
    }
    ASSERT_TRUE(seen) << vm_->console().transcript();
    auto next = agent::encodeFrame(agent::encodeCall({"execute", {"echo", "fresh"}, {}}));
    EXPECT_EQ(rawExchange(vm_->hostToGuest(), next),
              agent::encodeFrame(R"({"success":true,"result":"fresh"})"));
}

TEST_F(AgentGuest, SurvivesMalformedInputReconnectsAndAgentRestart) {
    auto pid = agentPid();
    ASSERT_FALSE(pid.empty());
    channel_->close();

    auto reply = rawExchange(vm_->hostToGuest(), "this is not a length\n");
    EXPECT_NE(reply.find("\"success\":false"), std::string::npos) << reply;
    EXPECT_NE(reply.find("invalid length line"), std::string::npos) << reply;
    reply = rawExchange(vm_->hostToGuest(), "12\n[1, 2, 3, 4]");
    EXPECT_NE(reply.find("not a JSON object"), std::string::npos) << reply;
    reply = rawExchange(vm_->hostToGuest(), "99999999999\n");
    EXPECT_NE(reply.find("exceeds the limit"), std::string::npos) << reply;
    reply = rawExchange(vm_->hostToGuest(), "2\n{}");
    EXPECT_NE(reply.find("no 'method' key"), std::string::npos) << reply;

    for (int round = 0; round < 3; ++round) {
        auto names = listCommands();
        ASSERT_TRUE(names) << "round " << round << ": " << names.error().message;
        channel_->close();
    }
    EXPECT_EQ(agentPid(), pid) << "the guest agent restarted instead of surviving";

    auto restart = vm_->console().run(
        "kill " + pid + " && (negotiator-guest --daemon --commands-only >/tmp/ng2.log 2>&1 &)",
        20s);
    ASSERT_TRUE(restart && restart->status == 0) << vm_->console().transcript();
    installGuestCommand(*vm_, "say", "echo \"$@\"\\n");
    auto echoed = execute({"say", "after restart"});
    ASSERT_TRUE(echoed) << echoed.error().message;
    EXPECT_EQ(*echoed, "after restart");
    auto outside = execute({"echo", "plain"});
    ASSERT_FALSE(outside) << "--commands-only ran a command from PATH";
    EXPECT_NE(outside.error().message.find("unknown command 'echo'"), std::string::npos)
        << outside.error().message;
}

}  // namespace
}  // namespace corral::test

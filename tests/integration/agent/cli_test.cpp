// negotiator-host on channel sockets (--socket): -c/-e against a stand-in guest, -d answering one.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>

#include "agent/codec.hpp"
#include "agent/rpc.hpp"
#include "tests/integration/agent/fake_qemu_socket.hpp"
#include "tests/integration/agent/guest_vm.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// Accepts the CLI, answers its synchronising probe (an unknown method, as every agent answers
// it), then its request; returns the request body.
asio::awaitable<std::string> answerOnce(FakeQemuSocket& qemu, std::string reply) {
    if (!co_await qemu.accept(10s)) co_return "no connection";
    auto probe = co_await qemu.receive(10s);
    auto parsed = agent::parseCall(probe.value_or(""));
    auto* call = std::get_if<agent::Call>(&parsed);
    if (!call || call->method.rfind("corral_sync_", 0) != 0) co_return "no probe first";
    co_await qemu.send(agent::encodeFrame(
        agent::encodeReply(agent::Reply::fail("unknown method '" + call->method + "'"))));
    auto request = co_await qemu.receive(10s);
    co_await qemu.send(agent::encodeFrame(reply));
    co_return request.value_or("no request");
}

asio::awaitable<std::string> callOnce(FakeQemuSocket& qemu, std::string call) {
    if (!co_await qemu.accept(10s)) co_return "no connection";
    co_await qemu.send(agent::encodeFrame(call));
    auto reply = co_await qemu.receive(10s);
    co_return reply.value_or("no reply");
}

class NegotiatorHostCli : public ::testing::Test {
  protected:
    std::string socket() const { return (dir_ / "chan.sock").string(); }
    TempDir dir_;
    asio::io_context io_;
    FakeQemuSocket qemu_{io_, socket()};
};

TEST_F(NegotiatorHostCli, ExecuteSplitsTheCommandAndPrintsTheOutput) {
    auto cli =
        Process::spawn({NEGOTIATOR_HOST, "--socket", socket(), "-t", "5", "-e", "uname -a 'x y'"},
                       dir_ / "out.log");
    auto request = runOn(io_, answerOnce(qemu_, R"({"success":true,"result":"Linux \u00e9\n"})"));
    EXPECT_EQ(request, R"({"method":"execute","args":["uname","-a","x y"],"kw":{}})");
    auto status = cli.wait(10s);
    ASSERT_TRUE(status);
    EXPECT_EQ(WEXITSTATUS(*status), 0);
    EXPECT_EQ(readFile(dir_ / "out.log"), "Linux \xC3\xA9\n");
}

TEST_F(NegotiatorHostCli, RemoteFailureExitsNonZeroWithTheMessage) {
    auto cli = Process::spawn({NEGOTIATOR_HOST, "--socket", socket(), "--list-commands"},
                              dir_ / "out.log");
    auto request = runOn(io_, answerOnce(qemu_, R"({"success":false,"error":"no way"})"));
    EXPECT_EQ(request, R"({"method":"list_commands","args":[],"kw":{}})");
    auto status = cli.wait(10s);
    ASSERT_TRUE(status);
    EXPECT_NE(WEXITSTATUS(*status), 0);
    EXPECT_EQ(readFile(dir_ / "out.log"), "negotiator-host: no way\n");
}

TEST_F(NegotiatorHostCli, DaemonAnswersTheGuestWithItsCommands) {
    std::filesystem::create_directory(dir_ / "cmds");
    std::ofstream(dir_ / "cmds" / "hello") << "#!/bin/sh\necho \"hello $NEGOTIATOR_GUEST\"\n";
    ::chmod((dir_ / "cmds" / "hello").c_str(), 0755);
    auto daemon = Process::spawn({NEGOTIATOR_HOST, "--daemon", "--socket", socket(), "--name",
                                  "web1", "--commands-dir", (dir_ / "cmds").string()},
                                 dir_ / "daemon.log");
    auto reply = runOn(io_, callOnce(qemu_, R"({"method":"execute","args":["hello"]})"));
    EXPECT_EQ(reply, R"({"success":true,"result":"hello web1"})");
    daemon.kill(SIGTERM);
    auto status = daemon.wait(10s);
    ASSERT_TRUE(status) << "negotiator-host --daemon ignored SIGTERM";
    EXPECT_TRUE(WIFEXITED(*status));
}

}  // namespace
}  // namespace corral::test

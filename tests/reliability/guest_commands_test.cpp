// What an untrusted guest may run on the host through the guest-to-host port (HostResponder):
// only files of the commands directory (found by basename, as python-negotiator does), no shell,
// bounded time and output, and an environment that carries NEGOTIATOR_GUEST but nothing of
// corrald's own.
#include "agent/codec.hpp"
#include "agent/host_responder.hpp"
#include "agent/rpc.hpp"
#include "tests/reliability/fake_peer.hpp"
#include "tests/support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

namespace corral::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Plays QEMU's chardev with the guest behind it: sends each request, collects each reply. A
// request whose connection ends before its reply is sent again on the next connection.
class GuestScript {
  public:
    explicit GuestScript(std::vector<std::string> frames) : frames_(std::move(frames)) {}

    void operator()(PeerConnection& connection) {
        agent::FrameDecoder decoder;
        while (next_ < frames_.size()) {
            if (!connection.write(frames_[next_])) return;
            std::optional<agent::FrameDecoder::Event> event;
            while (!(event = decoder.next())) {
                auto bytes = connection.read(15s);
                if (!bytes) return;
                decoder.feed(*bytes);
            }
            std::string problem;
            auto reply = agent::parseReply(event->body, problem);
            std::lock_guard lock(mutex_);
            replies_.push_back(reply ? *reply : agent::Reply::fail("unparsable: " + problem));
            ++next_;
        }
        done_ = true;
    }

    bool done() const { return done_; }
    std::vector<agent::Reply> replies() {
        std::lock_guard lock(mutex_);
        return replies_;
    }

  private:
    std::vector<std::string> frames_;
    std::size_t next_ = 0;
    std::mutex mutex_;
    std::vector<agent::Reply> replies_;
    std::atomic<bool> done_{false};
};

std::string executeFrame(std::vector<std::string> argv) {
    return agent::encodeFrame(agent::encodeCall(agent::Call{"execute", std::move(argv), {}}));
}

std::string text(const agent::Reply& reply) {
    if (!reply.success) return reply.error;
    if (auto* value = std::get_if<std::string>(&reply.result)) return *value;
    return {};
}

class GuestCommands : public ::testing::Test {
  protected:
    void SetUp() override {
        std::filesystem::create_directory(commands_);
        addCommand("showenv", "env");
        addCommand("echoarg", "printf '%s' \"$1\"");
        addCommand("sleeper", "sleep 30");
        addCommand("chatty", "exec yes corral");
        ::setenv("CORRAL_TEST_SECRET", "hunter2", 1);
    }

    void addCommand(const std::string& name, const std::string& body) {
        auto path = commands_ / name;
        std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
        ::chmod(path.c_str(), 0755);
    }

    // Runs the responder until the guest script has all its replies (bounded).
    std::vector<agent::Reply> run(std::vector<std::string> frames, std::chrono::seconds bound) {
        GuestScript script(std::move(frames));
        FakePeer chardev(socket_, std::ref(script));
        agent::HostResponder::Limits limits;
        limits.commandTimeout = 1s;
        limits.maxOutput = 64 * 1024;
        auto responder = agent::HostResponder::create(io_.get_executor(), socket_.native(), "vm1",
                                                      commands_, limits);
        responder->start();
        auto started = Clock::now();
        while (!script.done() && Clock::now() - started < bound) io_.run_one_for(100ms);
        elapsed_ = Clock::now() - started;
        responder->stop();
        io_.restart();
        io_.poll();
        chardev.stop();
        EXPECT_TRUE(script.done())
            << "the responder did not answer within " << bound.count() << " s";
        return script.replies();
    }

    TempDir dir_;
    std::filesystem::path socket_ = dir_ / "g2h.sock";
    std::filesystem::path commands_ = dir_ / "commands";
    boost::asio::io_context io_;
    Clock::duration elapsed_{};
};

TEST_F(GuestCommands, EnvironmentCarriesOnlyTheGuestName) {
    auto replies = run({executeFrame({"showenv"})}, 10s);
    ASSERT_EQ(replies.size(), 1u);
    ASSERT_TRUE(replies[0].success) << replies[0].error;
    EXPECT_NE(text(replies[0]).find("NEGOTIATOR_GUEST=vm1"), std::string::npos);
    EXPECT_EQ(text(replies[0]).find("CORRAL_TEST_SECRET=hunter2"), std::string::npos)
        << "corrald's environment leaked into a guest-to-host command";
}

TEST_F(GuestCommands, OnlyFilesOfTheCommandsDirectoryRun) {
    std::vector<std::string> names = {"/usr/bin/env", "..", ".", "showenv;id", "", "env", "dir/"};
    std::vector<std::string> frames;
    for (const auto& name : names) frames.push_back(executeFrame({name}));
    // A path is looked up by its basename, and only there: these run showenv of the directory.
    std::vector<std::string> basenames = {"../commands/showenv", "sub/showenv", "/usr/bin/showenv"};
    for (const auto& name : basenames) frames.push_back(executeFrame({name}));
    auto replies = run(frames, 20s);
    ASSERT_EQ(replies.size(), names.size() + basenames.size());
    for (std::size_t i = 0; i < names.size(); ++i) {
        EXPECT_FALSE(replies[i].success) << "'" << names[i] << "' ran: " << text(replies[i]);
        EXPECT_FALSE(replies[i].error.empty());
    }
    for (std::size_t i = names.size(); i < replies.size(); ++i) {
        ASSERT_TRUE(replies[i].success) << replies[i].error;
        EXPECT_NE(text(replies[i]).find("NEGOTIATOR_GUEST=vm1"), std::string::npos);
    }
}

TEST_F(GuestCommands, ArgumentsReachNoShell) {
    const std::string hostile = "$(touch /tmp/corral-pwned); `id` | rm -rf / &";
    auto replies = run({executeFrame({"echoarg", hostile})}, 10s);
    ASSERT_EQ(replies.size(), 1u);
    ASSERT_TRUE(replies[0].success) << replies[0].error;
    EXPECT_EQ(text(replies[0]), hostile);
}

TEST_F(GuestCommands, SlowCommandIsKilledAtItsTimeout) {
    auto replies = run({executeFrame({"sleeper"})}, 10s);
    ASSERT_EQ(replies.size(), 1u);
    EXPECT_FALSE(replies[0].success);
    EXPECT_NE(replies[0].error.find("timed out"), std::string::npos) << replies[0].error;
    EXPECT_LT(elapsed_, 5s);
}

TEST_F(GuestCommands, EndlessOutputIsCutAtTheCap) {
    auto replies = run({executeFrame({"chatty"})}, 10s);
    ASSERT_EQ(replies.size(), 1u);
    EXPECT_FALSE(replies[0].success);
    EXPECT_NE(replies[0].error.find("more than"), std::string::npos) << replies[0].error;
}

TEST_F(GuestCommands, RefusedLengthIsAnsweredAndTheNextConnectionServed) {
    auto replies = run({"4294967296\n", executeFrame({"echoarg", "still alive"})}, 10s);
    ASSERT_EQ(replies.size(), 2u);
    EXPECT_FALSE(replies[0].success);
    EXPECT_NE(replies[0].error.find("exceeds"), std::string::npos) << replies[0].error;
    ASSERT_TRUE(replies[1].success) << replies[1].error;
    EXPECT_EQ(text(replies[1]), "still alive");
}

// Runs in a child process (death-test machinery) so that a stack overflow in the JSON parser
// fails this test instead of killing the whole suite.
TEST_F(GuestCommands, DeeplyNestedRequestIsRefusedWithoutCrashing) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(
        {
            auto replies = run({agent::encodeFrame(std::string(200000, '['))}, 10s);
            std::exit(replies.size() == 1 && !replies[0].success ? 0 : 1);
        },
        ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace corral::test

// A hostile guest behind the negotiator host-to-guest port: HostChannel must fail the call with
// a clear error within its timeout, keep memory bounded, reset the channel so that a well-behaved
// agent is usable on the next call, and leak no fd.
#include "agent/codec.hpp"
#include "agent/host_channel.hpp"
#include "agent/rpc.hpp"
#include "tests/reliability/fake_peer.hpp"
#include "tests/reliability/run_bounded.hpp"
#include "tests/support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>

namespace corral::test {
namespace {

using namespace std::chrono_literals;
using agent::Result;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMiB = 1024 * 1024;
// What a hostile peer may cost us: a few read buffers, never the bytes it sends.
constexpr std::size_t kMaxGrowth = 48 * kMiB;

// A well-behaved guest agent; `received` are bytes of the connection already read.
void serveGoodAgentAfter(PeerConnection& connection, const std::string& received) {
    agent::Dispatcher dispatcher;
    dispatcher.add("list_commands", [](const agent::Call&) {
        return agent::Reply::ok(std::vector<std::string>{"uptime"});
    });
    dispatcher.add("execute", [](const agent::Call& call) {
        return agent::Reply::ok("good:" + call.args.at(0));
    });
    agent::FrameDecoder decoder;
    auto answer = [&](std::string_view bytes) {
        decoder.feed(bytes);
        while (auto event = decoder.next()) {
            if (event->kind != agent::FrameDecoder::Event::Kind::Message) return false;
            if (!connection.write(agent::encodeFrame(dispatcher.handle(event->body)))) return false;
        }
        return true;
    };
    if (!answer(received)) return;
    while (auto bytes = connection.read(10s)) {
        if (!answer(*bytes)) return;
    }
}

void serveGoodAgent(PeerConnection& connection) {
    serveGoodAgentAfter(connection, {});
}

// Streams `total` bytes of filler, as a body nobody should ever buffer.
void streamFiller(PeerConnection& connection, std::size_t total) {
    const std::string chunk(kMiB, 'x');
    for (std::size_t sent = 0; sent < total; sent += chunk.size()) {
        if (!connection.write(chunk)) return;
    }
}

class HostileGuest : public ::testing::Test {
  protected:
    Result<std::string> execute(std::chrono::milliseconds timeout) {
        auto started = Clock::now();
        auto result =
            runBounded(io_, channel_->execute({"uptime"}, std::nullopt, timeout), timeout + 5s);
        elapsed_ = Clock::now() - started;
        if (!result) ADD_FAILURE() << "execute did not complete within its timeout + 5 s";
        if (!result) return agent::Error{Errc::Timeout, "test: no completion within the bound"};
        return std::move(*result);
    }

    // The hostile call failed with `kind`, in time and without buffering what the peer sent.
    void expectFailure(const Result<std::string>& result, Errc kind,
                       std::chrono::milliseconds timeout) {
        ASSERT_FALSE(result.has_value()) << "hostile peer produced a value: " << *result;
        EXPECT_EQ(result.error().kind, kind) << result.error().message;
        EXPECT_NE(result.error().message.find(socket_.native()), std::string::npos)
            << "the error should say where: " << result.error().message;
        EXPECT_LE(elapsed_, timeout + 1s);
        EXPECT_LT(residentBytes(), rssBefore_ + kMaxGrowth)
            << "grew by " << (residentBytes() - rssBefore_) / kMiB << " MiB";
    }

    // After the hostile peer is gone, a good agent is usable again. A call that finds the old
    // connection dead fails fast with Errc::Disconnected (nothing is retried behind the caller's
    // back, the command may have run); the call after it reconnects.
    void expectRecoveryWithGoodAgent() {
        FakePeer good(socket_, serveGoodAgent);
        auto result = execute(5s);
        if (!result) {
            EXPECT_EQ(result.error().kind, Errc::Disconnected) << result.error().message;
            EXPECT_LE(elapsed_, 1s);
            result = execute(5s);
        }
        ASSERT_TRUE(result.has_value()) << result.error().message;
        EXPECT_EQ(*result, "good:uptime");
    }

    void TearDown() override {
        channel_->close();
        channel_.reset();
        io_.restart();
        io_.poll();
        EXPECT_EQ(openFdCount(), fdsBefore_) << "fds leaked";
    }

    TempDir dir_;
    std::filesystem::path socket_ = dir_ / "h2g.sock";
    boost::asio::io_context io_;
    std::shared_ptr<agent::HostChannel> channel_ =
        agent::HostChannel::create(io_.get_executor(), socket_.native());
    int fdsBefore_ = openFdCount();
    std::size_t rssBefore_ = residentBytes();
    Clock::duration elapsed_{};
};

TEST_F(HostileGuest, LengthPrefixOf4GiBFailsWithoutAllocating) {
    {
        FakePeer hostile(socket_, [](PeerConnection& connection) {
            if (!connection.read(5s)) return;
            if (!connection.write("4294967296\n")) return;
            streamFiller(connection, 256 * kMiB);
        });
        expectFailure(execute(5s), Errc::Protocol, 5s);
    }
    expectRecoveryWithGoodAgent();
}

TEST_F(HostileGuest, GarbageFailsAsProtocolError) {
    {
        FakePeer hostile(socket_, [](PeerConnection& connection) {
            if (!connection.read(5s)) return;
            if (!connection.write("HTTP/1.1 200 OK\r\n\r\n\xff\xfe garbage")) return;
            connection.holdOpen();
        });
        expectFailure(execute(5s), Errc::Protocol, 5s);
    }
    expectRecoveryWithGoodAgent();
}

TEST_F(HostileGuest, HalfFrameThenSilenceTimesOut) {
    {
        FakePeer hostile(socket_, [](PeerConnection& connection) {
            if (!connection.read(5s)) return;
            if (!connection.write("100\n{\"success\": tr")) return;
            connection.holdOpen();
        });
        expectFailure(execute(1s), Errc::Timeout, 1s);
        EXPECT_GE(elapsed_, 1s);
    }
    expectRecoveryWithGoodAgent();
}

TEST_F(HostileGuest, MessageBodyBeyondTheCapIsRefused) {
    {
        FakePeer hostile(socket_, [](PeerConnection& connection) {
            if (!connection.read(5s)) return;
            auto length = std::to_string(agent::kDefaultMaxMessage + 1);
            if (!connection.write(length + "\n")) return;
            streamFiller(connection, agent::kDefaultMaxMessage + 1);
            connection.holdOpen();
        });
        expectFailure(execute(5s), Errc::Protocol, 5s);
    }
    expectRecoveryWithGoodAgent();
}

TEST_F(HostileGuest, FloodOfRepliesKeepsMemoryBounded) {
    {
        FakePeer hostile(socket_, [](PeerConnection& connection) {
            auto reply = agent::encodeFrame(agent::encodeReply(agent::Reply::ok("flood")));
            std::string burst;
            while (burst.size() < kMiB) burst += reply;
            for (int i = 0; i < 256 && connection.write(burst); ++i) {
            }
        });
        auto result = execute(5s);
        // The flood may answer this call (there are no request ids), but never costs memory.
        EXPECT_LE(elapsed_, 6s);
        EXPECT_LT(residentBytes(), rssBefore_ + kMaxGrowth)
            << "grew by " << (residentBytes() - rssBefore_) / kMiB << " MiB";
        (void)result;
    }
    expectRecoveryWithGoodAgent();
}

TEST_F(HostileGuest, LateReplyIsNeverTakenForTheNextCall) {
    FakePeer slow(socket_, [](PeerConnection& connection) {
        if (!connection.read(5s)) return;
        // A slow guest: it answers only once the caller gave up and the next call's first bytes
        // have arrived (the caller times out after 1 s, so they come within 6), then behaves.
        auto next = connection.read(6s);
        if (!next) return;
        auto late = agent::encodeFrame(agent::encodeReply(agent::Reply::ok("late")));
        if (connection.write(late)) serveGoodAgentAfter(connection, *next);
    });
    expectFailure(execute(1s), Errc::Timeout, 1s);
    auto next = execute(5s);
    ASSERT_TRUE(next.has_value()) << next.error().message;
    EXPECT_EQ(*next, "good:uptime");
}

// Runs in a child process (death-test machinery) so that a stack overflow in the JSON parser
// fails this test instead of killing the whole suite.
TEST_F(HostileGuest, DeeplyNestedReplyIsRefusedWithoutCrashing) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(
        {
            FakePeer hostile(socket_, [](PeerConnection& connection) {
                if (!connection.read(5s)) return;
                std::string body(200000, '[');
                if (connection.write(agent::encodeFrame(body))) connection.holdOpen();
            });
            auto result = execute(5s);
            std::exit(!result.has_value() && result.error().kind == Errc::Protocol ? 0 : 1);
        },
        ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace corral::test

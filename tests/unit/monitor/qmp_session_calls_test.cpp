// QmpSession's call bookkeeping, fed bytes and a fake clock, no socket: the write queue, partial
// writes, deadlines, "abandoned before a byte left" versus "already on the wire", the handshake's
// deadline and failing every pending call when the transport dies.
#include "tests/unit/monitor/qmp_session_fixture.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace corral::monitor::test {
namespace {

std::string lineOf(std::string_view command, std::uint64_t id) {
    return R"({"execute":")" + std::string(command) + R"(","id":)" + std::to_string(id) + "}\r\n";
}

class QmpSessionCalls : public QmpSessionTest {
  protected:
    void SetUp() override { negotiate(); }

    // The next bytes to send, as a string ("" when nothing is queued).
    std::string pendingWrite() {
        auto write = session.nextWrite();
        return write ? std::string(write->bytes) : std::string();
    }
};

TEST_F(QmpSessionCalls, WritesLinesInCallOrder) {
    auto a = call("a");
    auto b = call("b");
    auto first = session.nextWrite();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->id, a);
    EXPECT_TRUE(first->first);
    EXPECT_EQ(first->bytes, lineOf("a", a));
    session.commitWrite(first->bytes.size());
    EXPECT_EQ(pendingWrite(), lineOf("b", b));
    session.commitWrite(lineOf("b", b).size());
    EXPECT_FALSE(session.nextWrite());
}

TEST_F(QmpSessionCalls, PartialWriteResumesWhereItStopped) {
    auto a = call("a");
    const std::string line = lineOf("a", a);
    session.commitWrite(5);
    auto rest = session.nextWrite();
    ASSERT_TRUE(rest);
    EXPECT_EQ(rest->id, a);
    EXPECT_FALSE(rest->first);  // fds went with the first byte already
    EXPECT_EQ(rest->bytes, line.substr(5));
    session.commitWrite(rest->bytes.size());
    EXPECT_FALSE(session.nextWrite());
}

// Boost.Redis test_cancel_waiting: a call that ends before a byte of it left is taken out of
// the queue; QEMU never runs it.
TEST_F(QmpSessionCalls, CallExpiredBeforeItsFirstByteNeverReachesTheWire) {
    auto a = call("a", 100ms);
    auto b = call("b", 5s);
    now += 100ms;
    auto ended = session.expire(now);
    ASSERT_EQ(ended.size(), 1u);
    EXPECT_EQ(ended[0].id, a);
    ASSERT_FALSE(ended[0].result);
    EXPECT_EQ(ended[0].result.error().kind, corral::Errc::Timeout);
    EXPECT_EQ(ended[0].result.error().message, "a: Timeout: no reply within 100 ms");
    EXPECT_EQ(drain(), lineOf("b", b));
    // Nothing of `a` is left: a reply with its id is a stranger's, logged and counted.
    EXPECT_TRUE(feedOk(answer(a)).empty());
    EXPECT_EQ(session.droppedReplies(), 1u);
    EXPECT_EQ(logged.size(), 1u);
}

// Boost.Redis test_cancel_staged: a call that ends while its line is half written keeps the line
// until its last byte is out (QEMU would read the next command glued to half of this one), and
// its late reply is dropped without a word.
TEST_F(QmpSessionCalls, CallExpiredMidLineFinishesItsLineAndDropsItsLateReplyQuietly) {
    auto a = call("a", 100ms);
    auto b = call("b", 5s);
    const std::string line = lineOf("a", a);
    session.commitWrite(7);
    now += 100ms;
    auto ended = session.expire(now);
    ASSERT_EQ(ended.size(), 1u);
    EXPECT_EQ(ended[0].id, a);
    EXPECT_EQ(ended[0].result.error().kind, corral::Errc::Timeout);
    EXPECT_EQ(drain(), line.substr(7) + lineOf("b", b));
    auto records = feedOk(answer(a) + answer(b, R"("b")"));
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(std::get<QmpReply>(records[0]).id, b);
    EXPECT_EQ(session.droppedReplies(), 0u);
    EXPECT_TRUE(logged.empty());
}

TEST_F(QmpSessionCalls, SentCallThatTimesOutDropsItsLateReplyQuietly) {
    auto a = call("a", 100ms);
    drain();
    now += 150ms;
    ASSERT_EQ(session.expire(now).size(), 1u);
    EXPECT_EQ(session.pendingCount(), 0u);
    EXPECT_TRUE(feedOk(answer(a)).empty());
    EXPECT_EQ(session.droppedReplies(), 0u);
    EXPECT_TRUE(logged.empty());
}

TEST_F(QmpSessionCalls, ExpireEndsOnlyCallsAtOrPastTheirDeadline) {
    auto a = call("a", 1s);
    auto b = call("b", 2s);
    auto c = call("c", 3s);
    drain();
    EXPECT_EQ(session.nextDeadline(), kT0 + 1s);
    EXPECT_TRUE(session.expire(kT0 + 999ms).empty());
    auto ended = session.expire(kT0 + 2s);
    ASSERT_EQ(ended.size(), 2u);
    EXPECT_EQ(ended[0].id, a);
    EXPECT_EQ(ended[1].id, b);
    EXPECT_EQ(session.nextDeadline(), kT0 + 3s);
    auto records = feedOk(answer(c));
    ASSERT_EQ(records.size(), 1u);
    ASSERT_TRUE(std::get<QmpReply>(records[0]).result);
    EXPECT_FALSE(session.nextDeadline());
}

TEST_F(QmpSessionCalls, AnsweredCallNoLongerExpires) {
    auto a = call("a", 1s);
    drain();
    ASSERT_EQ(feedOk(answer(a)).size(), 1u);
    EXPECT_TRUE(session.expire(kT0 + 1h).empty());
}

TEST_F(QmpSessionCalls, ReplyToALineNotYetSentIsDropped) {
    auto a = call("a");
    EXPECT_TRUE(feedOk(answer(a)).empty());
    EXPECT_EQ(session.droppedReplies(), 1u);
    EXPECT_EQ(session.pendingCount(), 1u);
    drain();
    EXPECT_EQ(feedOk(answer(a)).size(), 1u);
}

TEST_F(QmpSessionCalls, ReplyBeforeTheLastByteEndsTheCallAndTheLineStillFinishes) {
    // QEMU may answer once the JSON object is complete, before it reads our "\r\n".
    auto a = call("a");
    const std::string line = lineOf("a", a);
    session.commitWrite(line.size() - 2);
    auto records = feedOk(answer(a));
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(session.pendingCount(), 0u);
    EXPECT_EQ(drain(), "\r\n");
}

TEST_F(QmpSessionCalls, FailEndsEveryPendingCallAsDisconnected) {
    auto sent = call("sent");
    drain();
    auto half = call("half");
    session.commitWrite(3);
    auto queued = call("queued");
    auto why = makeError(Errc::Disconnected, "QMP", "QEMU closed the connection");
    auto ended = session.fail(why);
    ASSERT_EQ(ended.size(), 3u);
    const std::vector<std::uint64_t> ids = {ended[0].id, ended[1].id, ended[2].id};
    EXPECT_EQ(ids, (std::vector<std::uint64_t>{sent, half, queued}));
    EXPECT_EQ(ended[1].result.error().kind, corral::Errc::Disconnected);
    EXPECT_EQ(ended[1].result.error().message,
              "half: QMP: Disconnected: QEMU closed the connection");
    EXPECT_EQ(session.state(), QmpSession::State::Failed);
    EXPECT_EQ(session.failure().message, why.message);
    EXPECT_EQ(session.pendingCount(), 0u);
    EXPECT_FALSE(session.nextWrite());
    EXPECT_FALSE(session.nextDeadline());
    EXPECT_FALSE(session.execute("later", Json(), now, 1s));
    EXPECT_TRUE(session.fail(why).empty());
}

TEST_F(QmpSessionCalls, FailAfterAProtocolErrorKeepsTheFirstCause) {
    auto a = call("a");
    drain();
    feedBroken("not json\r\n", "malformed line");
    // The call is still the transport's to end: the caller learns why the connection went.
    EXPECT_EQ(session.pendingCount(), 1u);
    auto ended = session.fail(makeError(Errc::Disconnected, "QMP", "closed after a bad line"));
    ASSERT_EQ(ended.size(), 1u);
    EXPECT_EQ(ended[0].id, a);
    EXPECT_EQ(session.failure().kind, corral::Errc::Protocol);
    EXPECT_NE(session.failure().message.find("malformed line"), std::string::npos);
}

TEST_F(QmpSessionCalls, TimeoutsAreClampedToTheLongestWait) {
    call("forever", std::chrono::milliseconds::max());
    call("now", std::chrono::milliseconds(-5));
    EXPECT_EQ(session.nextDeadline(), kT0);
    auto ended = session.expire(kT0);
    ASSERT_EQ(ended.size(), 1u);
    EXPECT_EQ(ended[0].command, "now");
    EXPECT_EQ(session.nextDeadline(), kT0 + kMaxWait);
}

void expectFailed(const QmpSession& session, corral::Errc kind, const std::string& message) {
    EXPECT_EQ(session.state(), QmpSession::State::Failed);
    EXPECT_EQ(session.failure().kind, kind);
    EXPECT_EQ(session.failure().message, message);
}

TEST(QmpSessionHandshake, NoGreetingInTimeFailsTheSession) {
    QmpSession session([](std::string_view) {});
    session.limitHandshake(kT0, 10s);
    EXPECT_EQ(session.nextDeadline(), kT0 + 10s);
    EXPECT_TRUE(session.expire(kT0 + 10s - 1ms).empty());
    EXPECT_EQ(session.state(), QmpSession::State::AwaitingGreeting);
    EXPECT_TRUE(session.expire(kT0 + 10s).empty());
    expectFailed(session, corral::Errc::Timeout, "greeting: Timeout: none within 10000 ms");
}

TEST(QmpSessionHandshake, UnansweredCapabilitiesFailTheSessionAtTheSameDeadline) {
    QmpSession session([](std::string_view) {});
    session.limitHandshake(kT0, 10s);
    session.feed(kGreeting);
    ASSERT_EQ(session.state(), QmpSession::State::Negotiating);
    auto caps = session.nextWrite();
    ASSERT_TRUE(caps);
    session.commitWrite(caps->bytes.size());
    EXPECT_EQ(session.nextDeadline(), kT0 + 10s);
    // qmp_capabilities is the session's own call: its end is no reply to anyone.
    EXPECT_TRUE(session.expire(kT0 + 10s).empty());
    expectFailed(session, corral::Errc::Timeout,
                 "qmp_capabilities: Timeout: no reply within 10000 ms");
}

TEST(QmpSessionHandshake, TransportLostDuringTheHandshakeIsTheFailure) {
    QmpSession session([](std::string_view) {});
    session.feed(kGreeting);
    ASSERT_EQ(session.state(), QmpSession::State::Negotiating);
    auto why = makeError(Errc::Disconnected, "QMP", "QEMU closed the connection");
    EXPECT_TRUE(session.fail(why).empty());
    expectFailed(session, corral::Errc::Disconnected, why.message);
}

}  // namespace
}  // namespace corral::monitor::test

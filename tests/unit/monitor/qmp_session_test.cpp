// QmpSession as a parser and router: greeting, events, replies by id, protocol errors.
#include "tests/unit/monitor/qmp_session_fixture.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace corral::monitor::test {
namespace {

TEST_F(QmpSessionTest, ParsesGreeting) {
    auto records = feedOk(kGreeting);
    ASSERT_EQ(records.size(), 1u);
    const auto& greeting = std::get<QmpGreeting>(records[0]);
    EXPECT_EQ(greeting.major, 7);
    EXPECT_EQ(greeting.minor, 2);
    EXPECT_EQ(greeting.capabilities, std::vector<std::string>{"oob"});
    EXPECT_EQ(session.state(), QmpSession::State::Negotiating);
}

TEST_F(QmpSessionTest, NegotiatesByItselfOnceTheGreetingArrives) {
    EXPECT_FALSE(session.execute("query-status", Json(), now, 1s));
    EXPECT_FALSE(session.nextWrite());
    feedOk(kGreeting);
    auto refused = session.execute("query-status", Json(), now, 1s);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().kind, corral::Errc::Protocol);
    EXPECT_EQ(drain(), "{\"execute\":\"qmp_capabilities\",\"id\":1}\r\n");
    EXPECT_EQ(session.state(), QmpSession::State::Negotiating);
    // Its reply is the session's own business: no record, just Ready.
    EXPECT_TRUE(feedOk(answer(1)).empty());
    EXPECT_EQ(session.state(), QmpSession::State::Ready);
    EXPECT_EQ(session.pendingCount(), 0u);
}

TEST_F(QmpSessionTest, BuildsExecuteLinesWithUniqueIds) {
    negotiate();
    Json args = JsonObject().set("id", "disk1").take();
    auto first = call("device_del", 1s, args);
    auto second = call("query-status");
    EXPECT_NE(first, second);
    EXPECT_EQ(drain(), R"({"execute":"device_del","arguments":{"id":"disk1"},"id":)" +
                           std::to_string(first) + "}\r\n" + R"({"execute":"query-status","id":)" +
                           std::to_string(second) + "}\r\n");
    EXPECT_EQ(session.pendingCount(), 2u);
    EXPECT_FALSE(session.execute("x", JsonArray().add(1).take(), now, 1s));
    EXPECT_EQ(session.pendingCount(), 2u);
}

TEST_F(QmpSessionTest, RoutesReplyById) {
    negotiate();
    auto a = call("query-status");
    auto b = call("query-name");
    drain();
    auto records = feedOk(answer(b, R"({"name": "vm"})") + answer(a, R"({"status": "paused"})"));
    ASSERT_EQ(records.size(), 2u);
    const auto& first = std::get<QmpReply>(records[0]);
    EXPECT_EQ(first.id, b);
    EXPECT_EQ(first.command, "query-name");
    ASSERT_TRUE(first.result);
    EXPECT_STREQ((*first.result)["name"].GetString(), "vm");
    const auto& second = std::get<QmpReply>(records[1]);
    EXPECT_EQ(second.command, "query-status");
    EXPECT_STREQ((*second.result)["status"].GetString(), "paused");
    EXPECT_EQ(session.pendingCount(), 0u);
}

TEST_F(QmpSessionTest, MapsErrorReplyToClassAndDesc) {
    negotiate();
    auto id = call("device_add");
    drain();
    auto records =
        feedOk(R"({"id": )" + std::to_string(id) +
               R"(, "error": {"class": "GenericError", "desc": "Duplicate ID 'disk1' for device"}})"
               "\r\n");
    ASSERT_EQ(records.size(), 1u);
    const auto& reply = std::get<QmpReply>(records[0]);
    ASSERT_FALSE(reply.result);
    EXPECT_EQ(reply.result.error().remoteClass, "GenericError");
    EXPECT_EQ(reply.result.error().message,
              "device_add: GenericError: Duplicate ID 'disk1' for device");
}

TEST_F(QmpSessionTest, HandlesSplitReadsByteByByte) {
    std::string text(kGreeting);
    std::vector<QmpRecord> records;
    for (char c : text) {
        auto part = feedOk(std::string_view(&c, 1));
        for (auto& r : part) records.push_back(std::move(r));
    }
    ASSERT_EQ(records.size(), 1u);
    EXPECT_TRUE(std::holds_alternative<QmpGreeting>(records[0]));
}

TEST_F(QmpSessionTest, AcceptsLfAndCrlfAndBlankLines) {
    negotiate();
    auto records = feedOk(
        "{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 1, "
        "\"microseconds\": 2}}\n\r\n\n{\"event\": \"RESUME\"}\r\n");
    ASSERT_EQ(records.size(), 2u);
    const auto& stop = std::get<QmpEvent>(records[0]);
    EXPECT_EQ(stop.name, "STOP");
    EXPECT_EQ(stop.seconds, 1);
    EXPECT_EQ(stop.micros, 2);
    EXPECT_TRUE(stop.data.IsNull());
    EXPECT_EQ(std::get<QmpEvent>(records[1]).name, "RESUME");
}

TEST_F(QmpSessionTest, InterleavesEventsWithReplies) {
    negotiate();
    auto id = call("device_del");
    drain();
    auto records = feedOk(R"({"event": "DEVICE_DELETED", "data": {"device": "d1", "path": "/x"}})"
                          "\r\n" +
                          answer(id) + R"({"event": "STOP"})" + "\r\n");
    ASSERT_EQ(records.size(), 3u);
    const auto& deleted = std::get<QmpEvent>(records[0]);
    EXPECT_STREQ(deleted.data["device"].GetString(), "d1");
    EXPECT_TRUE(std::holds_alternative<QmpReply>(records[1]));
    EXPECT_EQ(std::get<QmpEvent>(records[2]).name, "STOP");
}

TEST_F(QmpSessionTest, DeliversEventsBeforeGreeting) {
    auto records =
        feedOk(std::string(R"({"event": "SHUTDOWN"})") + "\r\n" + std::string(kGreeting));
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(std::get<QmpEvent>(records[0]).name, "SHUTDOWN");
    EXPECT_TRUE(std::holds_alternative<QmpGreeting>(records[1]));
}

TEST_F(QmpSessionTest, DropsAndLogsUnknownIds) {
    negotiate();
    auto records = feedOk("{\"return\": {}, \"id\": 4242}\r\n{\"return\": {}, \"id\": \"x\"}\r\n");
    EXPECT_TRUE(records.empty());
    EXPECT_EQ(session.droppedReplies(), 2u);
    ASSERT_EQ(logged.size(), 2u);
    EXPECT_NE(logged[0].find("4242"), std::string::npos);
    EXPECT_EQ(session.state(), QmpSession::State::Ready);
}

TEST_F(QmpSessionTest, ReplyWithoutIdIsProtocolError) {
    negotiate();
    EXPECT_TRUE(feedBroken(R"({"error": {"class": "GenericError", "desc": "bad"}})"
                           "\r\n",
                           "reply without id")
                    .empty());
    // Failed for good: nothing more is read.
    EXPECT_TRUE(session.feed("{\"event\": \"STOP\"}\r\n").empty());
}

TEST_F(QmpSessionTest, EventWithAnEmptyNameIsProtocolError) {
    // Found by the qmp_session fuzzer: an empty name reached subscribers as an event.
    negotiate();
    EXPECT_TRUE(feedBroken(R"({"event": "", "data": {"device": "disk1"}})"
                           "\r\n",
                           "event name")
                    .empty());
}

TEST_F(QmpSessionTest, GarbageIsProtocolError) {
    feedBroken("this is not json\r\n", "malformed line");
}

TEST_F(QmpSessionTest, NonObjectAndUnknownShapesAreProtocolErrors) {
    for (std::string_view line : {"[1, 2]\r\n", "{\"hello\": 1}\r\n", "{\"event\": 5}\r\n"}) {
        QmpSession fresh([](std::string_view) {});
        EXPECT_TRUE(fresh.feed(line).empty());
        EXPECT_EQ(fresh.state(), QmpSession::State::Failed) << line;
    }
}

TEST_F(QmpSessionTest, DeeplyNestedLineIsProtocolError) {
    negotiate();
    feedBroken(R"({"event": "X", "data": )" + std::string(500000, '[') + "\r\n",
               "nested deeper than");
}

TEST_F(QmpSessionTest, SecondGreetingIsProtocolError) {
    feedOk(kGreeting);
    feedBroken(kGreeting, "unexpected second greeting");
}

TEST_F(QmpSessionTest, RecordsBeforeABadLineAreStillReturned) {
    // Found by the qmp_session fuzzer: a reply in the same read as a bad line was lost, and its
    // call never ended.
    negotiate();
    auto id = call("query-status");
    drain();
    auto records = feedBroken(answer(id) + "{\"event\": \"STOP\"}\r\nnot json\r\n" + answer(id),
                              "malformed line");
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(std::get<QmpReply>(records[0]).id, id);
    EXPECT_EQ(std::get<QmpEvent>(records[1]).name, "STOP");
    EXPECT_EQ(session.pendingCount(), 0u);
}

TEST_F(QmpSessionTest, OversizeLineFailsWithoutBuffering) {
    std::string chunk(1024 * 1024, 'x');
    for (int i = 0; i < 10; ++i) feedOk(chunk);
    feedBroken("y", "longer than");
}

TEST_F(QmpSessionTest, LineOfExactlyTheCapIsAccepted) {
    negotiate();
    auto id = call("echo");
    drain();
    std::string head = R"({"id": )" + std::to_string(id) + R"(, "return": ")";
    std::string tail = "\"}";
    std::string line = head + std::string(kMaxLineBytes - head.size() - tail.size(), 'a') + tail;
    auto records = feedOk(line + "\n");
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(std::get<QmpReply>(records[0]).result->GetStringLength(),
              kMaxLineBytes - head.size() - tail.size());
}

TEST_F(QmpSessionTest, FailedNegotiationFailsSession) {
    feedOk(kGreeting);
    drain();
    auto records = session.feed(R"({"error": {"class": "CommandNotFound", "desc": "no"}, "id": 1})"
                                "\r\n");
    EXPECT_TRUE(records.empty());
    EXPECT_EQ(session.state(), QmpSession::State::Failed);
    EXPECT_EQ(session.failure().kind, corral::Errc::Remote);
    EXPECT_EQ(session.failure().message, "qmp_capabilities: CommandNotFound: no");
}

// A compact description of records, to compare the results of different splits.
std::string describe(const std::vector<QmpRecord>& records) {
    std::string out;
    for (const auto& record : records) {
        if (const auto* event = std::get_if<QmpEvent>(&record)) {
            out += "event:" + event->name + ";";
        } else if (const auto* reply = std::get_if<QmpReply>(&record)) {
            out += "reply:" + std::to_string(reply->id) + ":" +
                   (reply->result ? toJsonString(*reply->result)
                                  : std::string(toString(reply->result.error().kind))) +
                   ";";
        } else {
            out += "greeting;";
        }
    }
    return out;
}

TEST(QmpSessionSplits, SameRecordsWhateverTheSplit) {
    const std::string stream = std::string(kGreeting) +
                               "{\"event\": \"STOP\"}\r\n{\"return\": {}, \"id\": 1}\r\n"
                               "{\"id\": 2, \"error\": {\"class\": \"GenericError\", "
                               "\"desc\": \"x\"}}\n{\"event\": \"RESUME\", \"data\": {}}\r\n"
                               "{\"return\": [1, \"\\u00e9\"], \"id\": 3}\r\n";
    auto run = [&](const std::vector<std::size_t>& cuts) {
        QmpSession session([](std::string_view) {});
        std::vector<QmpRecord> all;
        std::size_t from = 0;
        auto feed = [&](std::size_t to) {
            for (auto& r : session.feed(std::string_view(stream).substr(from, to - from))) {
                all.push_back(std::move(r));
            }
            EXPECT_NE(session.state(), QmpSession::State::Failed);
            from = to;
            // Answer qmp_capabilities and send three calls as soon as the greeting is through.
            if (session.state() == QmpSession::State::Negotiating) {
                while (auto write = session.nextWrite()) session.commitWrite(write->bytes.size());
                session.feed(answer(1));
                ASSERT_EQ(session.state(), QmpSession::State::Ready);
                for (int i = 0; i < 3; ++i) ASSERT_TRUE(session.execute("c", Json(), kT0, 1s));
                while (auto write = session.nextWrite()) session.commitWrite(write->bytes.size());
            }
        };
        for (auto cut : cuts) feed(cut);
        feed(stream.size());
        return describe(all);
    };
    // Greeting-then-ids: the negotiation takes id 1, so the three calls are ids 2..4; the
    // stream's id 1 is unknown and dropped, ids 2 and 3 are answered.
    const std::string expected = run({kGreeting.size()});
    EXPECT_EQ(expected,
              "greeting;event:STOP;reply:2:Remote;event:RESUME;reply:3:[1,\"\xc3\xa9\"];");
    std::mt19937 random(42);
    for (int round = 0; round < 300; ++round) {
        std::vector<std::size_t> cuts;
        std::size_t at = 0;
        while (true) {
            at += 1 + random() % 40;
            if (at >= stream.size()) break;
            cuts.push_back(at);
        }
        // The greeting must be complete before negotiation: cut once right after it as well.
        cuts.push_back(kGreeting.size());
        std::sort(cuts.begin(), cuts.end());
        cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
        ASSERT_EQ(run(cuts), expected) << "round " << round;
    }
}

// What a stream did to a fresh session: the records it produced and why it failed, if it did.
struct Outcome {
    std::string records;
    std::string failure;  // empty while the session has not failed
};

// Feeds `bytes` in pieces of `chunk` bytes (0: all at once).
Outcome feedInChunks(std::string_view bytes, std::size_t chunk) {
    QmpSession session([](std::string_view) {});
    std::vector<QmpRecord> all;
    if (chunk == 0) chunk = bytes.size() + 1;
    for (std::size_t at = 0; at < bytes.size(); at += chunk) {
        for (auto& record : session.feed(bytes.substr(at, chunk))) all.push_back(std::move(record));
    }
    Outcome outcome{describe(all), ""};
    if (session.state() == QmpSession::State::Failed) {
        outcome.failure = session.failure().message;
        EXPECT_FALSE(outcome.failure.empty());
        // Failed for good: later input is not read.
        EXPECT_TRUE(session.feed("{\"event\": \"STOP\"}\r\n").empty());
    }
    return outcome;
}

// A stream of QMP lines, blank lines and noise: some streams are valid, most are not.
std::string randomStream(std::mt19937& random) {
    const std::vector<std::string> lines = {std::string(kGreeting), "{\"event\": \"STOP\"}\r\n",
                                            "{\"event\": \"X\", \"data\": {\"a\": [1, 2]}}\n",
                                            "{\"return\": {}, \"id\": 7}\r\n", "\r\n"};
    const std::string alphabet = "{}[]\":,\r\n \\u0aQMPeventreturniderror0123456789.-tfn";
    std::string bytes;
    for (int piece = 0, pieces = static_cast<int>(random() % 8); piece < pieces; ++piece) {
        if (random() % 6 != 0) {
            bytes += lines[random() % lines.size()];
            continue;
        }
        for (int i = 0, n = static_cast<int>(random() % 30); i < n; ++i) {
            bytes.push_back(random() % 4 == 0 ? static_cast<char>(random() % 256)
                                              : alphabet[random() % alphabet.size()]);
        }
    }
    return bytes;
}

TEST(QmpSessionSplits, RandomStreamsEndTheSameWayWhateverTheSplit) {
    std::mt19937 random(7);
    int failed = 0;
    int parsed = 0;
    for (int round = 0; round < 2000; ++round) {
        const std::string bytes = randomStream(random);
        const Outcome whole = feedInChunks(bytes, 0);
        for (std::size_t chunk : {std::size_t(1), std::size_t(2 + random() % 16)}) {
            const Outcome split = feedInChunks(bytes, chunk);
            ASSERT_EQ(split.failure, whole.failure) << "round " << round << ", chunk " << chunk;
            // Up to a failure, the same records, however the bytes arrive.
            ASSERT_EQ(split.records, whole.records) << "round " << round << ", chunk " << chunk;
        }
        failed += !whole.failure.empty();
        parsed += whole.failure.empty() && !whole.records.empty();
    }
    // Both ends are exercised, not just one of them.
    EXPECT_GT(failed, 200);
    EXPECT_GT(parsed, 200);
}

}  // namespace
}  // namespace corral::monitor::test

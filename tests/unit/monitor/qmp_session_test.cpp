#include "monitor/qmp_session.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace corral::monitor {
namespace {

constexpr std::string_view kGreeting =
    R"({"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""},)"
    R"( "capabilities": ["oob"]}})"
    "\r\n";

class QmpSessionTest : public ::testing::Test {
  protected:
    QmpSessionTest() : session([this](std::string_view note) { logged.emplace_back(note); }) {}

    std::vector<QmpRecord> feedOk(std::string_view bytes) {
        auto records = session.feed(bytes);
        EXPECT_TRUE(records) << (records ? "" : records.error().message);
        return records ? std::move(*records) : std::vector<QmpRecord>();
    }

    // Greeting + qmp_capabilities answered: the session accepts commands afterwards.
    void negotiate() {
        feedOk(kGreeting);
        auto caps = session.negotiate();
        ASSERT_TRUE(caps);
        feedOk(R"({"return": {}, "id": )" + std::to_string(caps->id) + "}\r\n");
        ASSERT_EQ(session.state(), QmpSession::State::Ready);
    }

    std::vector<std::string> logged;
    QmpSession session;
};

TEST_F(QmpSessionTest, ParsesGreeting) {
    auto records = feedOk(kGreeting);
    ASSERT_EQ(records.size(), 1u);
    const auto& greeting = std::get<QmpGreeting>(records[0]);
    EXPECT_EQ(greeting.major, 7);
    EXPECT_EQ(greeting.minor, 2);
    EXPECT_EQ(greeting.capabilities, std::vector<std::string>{"oob"});
    EXPECT_EQ(session.state(), QmpSession::State::Negotiating);
}

TEST_F(QmpSessionTest, RefusesCommandsBeforeNegotiation) {
    EXPECT_FALSE(session.negotiate());
    EXPECT_FALSE(session.execute("query-status", Json()));
    feedOk(kGreeting);
    auto refused = session.execute("query-status", Json());
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().kind, corral::Errc::Protocol);
    auto caps = session.negotiate();
    ASSERT_TRUE(caps);
    EXPECT_EQ(caps->line,
              R"({"execute":"qmp_capabilities","id":)" + std::to_string(caps->id) + "}\r\n");
    EXPECT_FALSE(session.negotiate());
}

TEST_F(QmpSessionTest, BuildsExecuteLinesWithUniqueIds) {
    negotiate();
    Json args = JsonObject().set("id", "disk1").take();
    auto first = session.execute("device_del", args);
    auto second = session.execute("query-status", Json());
    ASSERT_TRUE(first && second);
    EXPECT_NE(first->id, second->id);
    EXPECT_EQ(first->line, R"({"execute":"device_del","arguments":{"id":"disk1"},"id":)" +
                               std::to_string(first->id) + "}\r\n");
    EXPECT_EQ(session.pendingCount(), 2u);
    EXPECT_FALSE(session.execute("x", JsonArray().add(1).take()));
}

TEST_F(QmpSessionTest, RoutesReplyById) {
    negotiate();
    auto a = session.execute("query-status", Json());
    auto b = session.execute("query-name", Json());
    ASSERT_TRUE(a && b);
    auto records =
        feedOk(R"({"return": {"name": "vm"}, "id": )" + std::to_string(b->id) + "}\r\n" +
               R"({"return": {"status": "paused"}, "id": )" + std::to_string(a->id) + "}\r\n");
    ASSERT_EQ(records.size(), 2u);
    const auto& first = std::get<QmpReply>(records[0]);
    EXPECT_EQ(first.id, b->id);
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
    auto call = session.execute("device_add", Json());
    ASSERT_TRUE(call);
    auto records =
        feedOk(R"({"id": )" + std::to_string(call->id) +
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
    auto call = session.execute("device_del", Json());
    ASSERT_TRUE(call);
    std::string id = std::to_string(call->id);
    auto records = feedOk(R"({"event": "DEVICE_DELETED", "data": {"device": "d1", "path": "/x"}})"
                          "\r\n"
                          R"({"return": {}, "id": )" +
                          id + "}\r\n" + R"({"event": "STOP"})" + "\r\n");
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

TEST_F(QmpSessionTest, DropsLateReplyOfAbandonedCallQuietly) {
    negotiate();
    auto call = session.execute("query-status", Json());
    ASSERT_TRUE(call);
    session.abandon(call->id);
    EXPECT_EQ(session.pendingCount(), 0u);
    auto records = feedOk(R"({"return": {}, "id": )" + std::to_string(call->id) + "}\r\n");
    EXPECT_TRUE(records.empty());
    EXPECT_TRUE(logged.empty());
}

TEST_F(QmpSessionTest, ReplyWithoutIdIsProtocolError) {
    negotiate();
    auto records = session.feed(R"({"error": {"class": "GenericError", "desc": "bad"}})"
                                "\r\n");
    ASSERT_FALSE(records);
    EXPECT_EQ(records.error().kind, corral::Errc::Protocol);
    EXPECT_EQ(session.state(), QmpSession::State::Failed);
    EXPECT_FALSE(session.feed("{\"event\": \"STOP\"}\r\n"));
}

TEST_F(QmpSessionTest, EventWithAnEmptyNameIsProtocolError) {
    // Found by the qmp_session fuzzer: an empty name reached subscribers as an event.
    negotiate();
    auto records = session.feed(R"({"event": "", "data": {"device": "disk1"}})"
                                "\r\n");
    ASSERT_FALSE(records);
    EXPECT_NE(records.error().message.find("event name"), std::string::npos);
    EXPECT_EQ(session.state(), QmpSession::State::Failed);
}

TEST_F(QmpSessionTest, GarbageIsProtocolError) {
    auto records = session.feed("this is not json\r\n");
    ASSERT_FALSE(records);
    EXPECT_NE(records.error().message.find("malformed line"), std::string::npos);
    EXPECT_EQ(session.state(), QmpSession::State::Failed);
}

TEST_F(QmpSessionTest, NonObjectAndUnknownShapesAreProtocolErrors) {
    EXPECT_FALSE(QmpSession().feed("[1, 2]\r\n"));
    EXPECT_FALSE(QmpSession().feed("{\"hello\": 1}\r\n"));
    EXPECT_FALSE(QmpSession().feed("{\"event\": 5}\r\n"));
}

TEST_F(QmpSessionTest, DeeplyNestedLineIsProtocolError) {
    negotiate();
    auto records = session.feed(R"({"event": "X", "data": )" + std::string(500000, '[') + "\r\n");
    ASSERT_FALSE(records);
    EXPECT_NE(records.error().message.find("nested deeper than"), std::string::npos);
}

TEST_F(QmpSessionTest, SecondGreetingIsProtocolError) {
    feedOk(kGreeting);
    EXPECT_FALSE(session.feed(kGreeting));
}

TEST_F(QmpSessionTest, OversizeLineFailsWithoutBuffering) {
    std::string chunk(1024 * 1024, 'x');
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(session.feed(chunk)) << i;
    auto records = session.feed("y");
    ASSERT_FALSE(records);
    EXPECT_NE(records.error().message.find("longer than"), std::string::npos);
    EXPECT_EQ(session.state(), QmpSession::State::Failed);
}

TEST_F(QmpSessionTest, LineOfExactlyTheCapIsAccepted) {
    negotiate();
    auto call = session.execute("echo", Json());
    ASSERT_TRUE(call);
    std::string head = R"({"id": )" + std::to_string(call->id) + R"(, "return": ")";
    std::string tail = "\"}";
    std::string line = head + std::string(kMaxLineBytes - head.size() - tail.size(), 'a') + tail;
    auto records = feedOk(line + "\n");
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(std::get<QmpReply>(records[0]).result->GetStringLength(),
              kMaxLineBytes - head.size() - tail.size());
}

TEST_F(QmpSessionTest, FailedNegotiationFailsSession) {
    feedOk(kGreeting);
    auto caps = session.negotiate();
    ASSERT_TRUE(caps);
    auto records = feedOk(R"({"error": {"class": "CommandNotFound", "desc": "no"}, "id": )" +
                          std::to_string(caps->id) + "}\r\n");
    ASSERT_EQ(records.size(), 1u);
    EXPECT_FALSE(std::get<QmpReply>(records[0]).result);
    EXPECT_EQ(session.state(), QmpSession::State::Failed);
}

TEST_F(QmpSessionTest, FailReturnsPendingIds) {
    negotiate();
    auto a = session.execute("a", Json());
    auto b = session.execute("b", Json());
    auto ids = session.fail();
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(ids, (std::vector<std::uint64_t>{a->id, b->id}));
    EXPECT_EQ(session.pendingCount(), 0u);
    EXPECT_FALSE(session.execute("c", Json()));
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
            auto records = session.feed(std::string_view(stream).substr(from, to - from));
            EXPECT_TRUE(records);
            for (auto& r : *records) all.push_back(std::move(r));
            from = to;
            // Register the calls as soon as the greeting is through, like the client does.
            if (session.state() == QmpSession::State::Negotiating) {
                auto caps = session.negotiate();
                ASSERT_TRUE(caps);
                auto ok =
                    session.feed("{\"return\": {}, \"id\": " + std::to_string(caps->id) + "}\r\n");
                ASSERT_TRUE(ok);
                for (int i = 0; i < 3; ++i) ASSERT_TRUE(session.execute("c", Json()));
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

TEST(QmpSessionSplits, RandomBytesNeverCrash) {
    std::mt19937 random(7);
    const std::string alphabet = "{}[]\":,\r\n \\u0aQMPeventreturniderror0123456789.-tfn";
    for (int round = 0; round < 2000; ++round) {
        QmpSession session([](std::string_view) {});
        std::string bytes;
        for (int i = 0, n = static_cast<int>(random() % 200); i < n; ++i) {
            bytes.push_back(random() % 4 == 0 ? static_cast<char>(random() % 256)
                                              : alphabet[random() % alphabet.size()]);
        }
        auto records = session.feed(bytes);
        if (!records) {
            EXPECT_EQ(session.state(), QmpSession::State::Failed);
        }
    }
}

}  // namespace
}  // namespace corral::monitor

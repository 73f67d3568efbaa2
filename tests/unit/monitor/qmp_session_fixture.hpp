// A QmpSession driven as the client drives it, with no socket: bytes fed in, the write queue
// drained by hand, and a fake clock passed to every call.
#pragma once

#include "monitor/qmp_session.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace corral::monitor::test {

using namespace std::chrono_literals;

inline constexpr std::string_view kGreeting =
    R"({"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""},)"
    R"( "capabilities": ["oob"]}})"
    "\r\n";

// The fake clock's start; any point works, the session only compares.
inline const QmpTime kT0 = QmpTime() + std::chrono::hours(1);

// {"return": value, "id": id} as QEMU sends it.
inline std::string answer(std::uint64_t id, std::string_view value = "{}") {
    return R"({"return": )" + std::string(value) + R"(, "id": )" + std::to_string(id) + "}\r\n";
}

class QmpSessionTest : public ::testing::Test {
  protected:
    QmpSessionTest() : session([this](std::string_view note) { logged.emplace_back(note); }) {}

    std::vector<QmpRecord> feedOk(std::string_view bytes) {
        auto records = session.feed(bytes);
        EXPECT_NE(session.state(), QmpSession::State::Failed) << session.failure().message;
        return records;
    }

    // Feeds bytes that must fail the session with a protocol error whose sentence has `why`.
    std::vector<QmpRecord> feedBroken(std::string_view bytes, std::string_view why) {
        auto records = session.feed(bytes);
        EXPECT_EQ(session.state(), QmpSession::State::Failed);
        EXPECT_EQ(session.failure().kind, corral::Errc::Protocol);
        EXPECT_NE(session.failure().message.find(why), std::string::npos)
            << session.failure().message;
        return records;
    }

    // Sends everything queued, as a socket that takes it all would; returns what went out.
    std::string drain() {
        std::string out;
        while (auto write = session.nextWrite()) {
            out.append(write->bytes);
            session.commitWrite(write->bytes.size());
        }
        return out;
    }

    // Greeting, then our qmp_capabilities (id 1) answered: the session accepts commands.
    void negotiate() {
        feedOk(kGreeting);
        ASSERT_EQ(drain(), "{\"execute\":\"qmp_capabilities\",\"id\":1}\r\n");
        EXPECT_TRUE(feedOk(answer(1)).empty());
        ASSERT_EQ(session.state(), QmpSession::State::Ready);
    }

    // Queues a call at the fake time `now`; its line is not sent yet.
    std::uint64_t call(std::string_view command, std::chrono::milliseconds timeout = 1s,
                       const rapidjson::Value& args = rapidjson::Value()) {
        auto id = session.execute(command, args, now, timeout);
        EXPECT_TRUE(id) << (id ? "" : id.error().message);
        return id ? *id : 0;
    }

    std::vector<std::string> logged;
    QmpSession session;
    QmpTime now = kT0;
};

}  // namespace corral::monitor::test

// GuestInfo from the built-in commands' outputs, with a scripted guest instead of an agent.
#include <gtest/gtest.h>

#include <map>

#include "supervisor/guest_info.hpp"

namespace corral::supervisor {
namespace {

// Answers each command from a table, at once; counts the calls.
struct ScriptedGuest {
    std::map<std::string, Outcome<std::string>> answers;
    std::vector<std::string> asked;
    GuestCommandRunner runner() {
        return
            [this](std::vector<std::string> argv, std::function<void(Outcome<std::string>)> done) {
                asked.push_back(argv.at(0));
                auto it = answers.find(argv.at(0));
                done(it != answers.end() ? it->second
                                         : Outcome<std::string>(OpError{ErrorKind::Failed, "no"}));
            };
    }
};

Outcome<GuestInfo> query(ScriptedGuest& guest) {
    Outcome<GuestInfo> result;
    bool called = false;
    queryGuestInfo(guest.runner(), [&](Outcome<GuestInfo> info) {
        result = std::move(info);
        called = true;
    });
    EXPECT_TRUE(called);
    return result;
}

TEST(GuestInfo, AsksEachBuiltInCommandAndParsesItsAnswer) {
    ScriptedGuest guest{{{"find-distributor-id", std::string("Debian")},
                         {"find-distribution-release", std::string("12")},
                         {"find-distribution-codename", std::string("bookworm")},
                         {"find-ip-addresses", std::string("127.0.0.1/8\n10.0.2.15/24\n")}},
                        {}};
    auto info = query(guest);
    ASSERT_TRUE(info) << info.error().message;
    EXPECT_EQ(info.value().osId, "Debian");
    EXPECT_EQ(info.value().release, "12");
    EXPECT_EQ(info.value().codename, "bookworm");
    EXPECT_EQ(info.value().addresses, (std::vector<std::string>{"127.0.0.1/8", "10.0.2.15/24"}));
    EXPECT_EQ(guest.asked,
              (std::vector<std::string>{"find-distributor-id", "find-distribution-release",
                                        "find-distribution-codename", "find-ip-addresses"}));
}

TEST(GuestInfo, AFailedCommandLeavesItsFieldEmpty) {
    // An agent without the built-in commands (older corral, a python-negotiator without
    // lsb_release): what there is, is reported.
    ScriptedGuest guest{{{"find-ip-addresses", std::string("192.0.2.1/24")}}, {}};
    auto info = query(guest);
    ASSERT_TRUE(info) << info.error().message;
    EXPECT_EQ(info.value().osId, "");
    EXPECT_EQ(info.value().codename, "");
    EXPECT_EQ(info.value().addresses, std::vector<std::string>{"192.0.2.1/24"});
}

TEST(GuestInfo, AnUnreachableAgentFailsTheQueryAtOnce) {
    ScriptedGuest guest{{{"find-distributor-id",
                          Outcome<std::string>(OpError{ErrorKind::AgentUnavailable, "gone"})}},
                        {}};
    auto info = query(guest);
    ASSERT_FALSE(info);
    EXPECT_EQ(info.error().kind, ErrorKind::AgentUnavailable);
    EXPECT_EQ(guest.asked.size(), 1u);
}

TEST(GuestInfo, OutputsAreTrimmedToTheirLines) {
    EXPECT_EQ(guestInfoLine("  Ubuntu \n"), "Ubuntu");
    EXPECT_EQ(guestInfoLine("first\nsecond\n"), "first");
    EXPECT_EQ(guestInfoLine(""), "");
    EXPECT_EQ(guestInfoAddresses("\n a/8 \r\n\nb/24"), (std::vector<std::string>{"a/8", "b/24"}));
}

}  // namespace
}  // namespace corral::supervisor

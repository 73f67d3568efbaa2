// The original's own bytes against our pure code: every request its CLIs and classes produced
// parses and is taken as it takes it, every answer of its daemons parses, and our CLIs' way of
// splitting and printing gives what its CLIs sent and printed.
#include <gtest/gtest.h>

#include <sstream>

#include "agent/cli_support.hpp"
#include "agent/methods.hpp"
#include "agent/rpc.hpp"
#include "agent/split.hpp"
#include "tests/unit/agent/negotiator_fixtures.hpp"

namespace corral::test {
namespace {

using agent::Call;

class OriginalFixtures : public ::testing::Test {
  protected:
    static void SetUpTestSuite() { cases_ = loadNegotiatorCases(); }
    static std::vector<NegotiatorCase> cases_;
};
std::vector<NegotiatorCase> OriginalFixtures::cases_;

TEST_F(OriginalFixtures, CoverEveryClientAndBothDaemons) {
    std::set<std::string> clients, servers;
    for (const auto& c : cases_) clients.insert(c.client), servers.insert(c.server);
    EXPECT_EQ(clients, (std::set<std::string>{"class", "guest-cli", "handmade", "host-cli"}));
    EXPECT_EQ(servers, (std::set<std::string>{"guest", "host"}));
    EXPECT_GE(cases_.size(), 30u);
}

TEST_F(OriginalFixtures, EveryRequestIsAcceptedAsTheOriginalAcceptsIt) {
    for (const auto& c : cases_) {
        ASSERT_FALSE(c.requests.empty()) << c.name;
        for (const auto& body : c.requests) {
            auto parsed = agent::parseCall(body);
            auto* call = std::get_if<Call>(&parsed);
            ASSERT_TRUE(call) << c.name << ": " << body;
            if (call->method == "execute") {
                auto read = agent::readExecute(*call);
                // The original failed only the call without a command name.
                EXPECT_EQ(std::holds_alternative<agent::Reply>(read), c.name == "handmade-no-args")
                    << c.name << ": " << body;
            } else if (call->method == "list_commands") {
                EXPECT_EQ(agent::checkListCommands(*call).has_value(),
                          c.name == "handmade-list-args")
                    << c.name;
            }
        }
    }
}

TEST_F(OriginalFixtures, EveryAnswerOfTheOriginalParses) {
    for (const auto& c : cases_) {
        EXPECT_EQ(c.replies.size(), c.requests.size()) << c.name;
        for (const auto& body : c.replies) {
            std::string problem;
            EXPECT_TRUE(agent::parseReply(body, problem)) << c.name << ": " << problem;
        }
    }
}

TEST_F(OriginalFixtures, OurSplitGivesTheArgumentsShlexGave) {
    for (const auto& c : cases_) {
        if (c.client != "host-cli" && c.client != "guest-cli") continue;
        std::vector<std::string> commands;
        for (std::size_t i = 0; i + 1 < c.args.size(); ++i)
            if (c.args[i] == "-e") commands.push_back(c.args[i + 1]);
        std::size_t next = 0;
        for (const auto& body : c.requests) {
            auto call = std::get<Call>(agent::parseCall(body));
            if (call.method != "execute") continue;
            ASSERT_LT(next, commands.size()) << c.name;
            EXPECT_EQ(agent::splitCommandLine(commands[next++]), call.args) << c.name;
        }
    }
}

// What our CLIs print for each of the original's answers, as they print it.
std::string printed(const agent::Reply& reply) {
    if (auto* names = std::get_if<std::vector<std::string>>(&reply.result))
        return agent::printableList(*names);
    if (auto* text = std::get_if<std::string>(&reply.result)) return agent::printableOutput(*text);
    return agent::printableOutput("");
}

TEST_F(OriginalFixtures, OurPrintingOfItsAnswersIsWhatItsCliPrinted) {
    std::size_t compared = 0;
    for (const auto& c : cases_) {
        if ((c.client != "host-cli" && c.client != "guest-cli") || c.status != 0) continue;
        std::string ours;
        for (const auto& body : c.replies) {
            std::string problem;
            ours += printed(*agent::parseReply(body, problem));
        }
        if (c.client == "guest-cli" &&
            c.requests.front().find("list_commands") != std::string::npos) {
            // Its guest CLI prints the host's order; ours sorts (as its host CLI does).
            std::vector<std::string> lines;
            std::string line;
            for (std::istringstream in(*c.printed); std::getline(in, line);) lines.push_back(line);
            EXPECT_EQ(ours, agent::printableList(lines)) << c.name;
        } else {
            EXPECT_EQ(ours, c.printed) << c.name;
        }
        ++compared;
    }
    EXPECT_GE(compared, 15u);
}

}  // namespace
}  // namespace corral::test

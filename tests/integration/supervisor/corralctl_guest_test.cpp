// corralctl against a real guest: one exit-code rule for a request whose goal is already reached
// (refused, exit 5, corrald's sentence) for every lifecycle verb, and status's StartedAt for
// people.
#include <gtest/gtest.h>

#include <regex>

#include "tests/integration/supervisor/corrald_fixture.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;

class CorralctlGuest : public CorraldFixture {
  protected:
    CommandResult ctl(std::vector<std::string> args) {
        std::vector<std::string> argv = {std::string(CORRAL_BINARY_DIR) + "/supervisor/corralctl",
                                         "--address", address_};
        argv.insert(argv.end(), args.begin(), args.end());
        return runCommand(argv, 120s, dir_.path());
    }
    void expectRefused(std::vector<std::string> args, const std::string& sentence) {
        auto result = ctl(args);
        EXPECT_EQ(result.status, 5) << args.front() << ": " << result.output;
        EXPECT_EQ(result.output, "corralctl: " + sentence + "\n") << args.front();
    }
};

TEST_F(CorralctlGuest, RequestWhoseGoalIsReachedExitsFiveForEveryVerb) {
    writeGuest("web1");
    startCorrald();
    expectRefused({"kill", "web1"}, "web1 is not running (state stopped).");
    expectRefused({"shutdown", "web1"}, "web1 is not running (state stopped).");
    ASSERT_EQ(ctl({"start", "web1"}).status, 0) << corraldLog();
    expectRefused({"start", "web1"}, "web1 is already running.");
    expectRefused({"resume", "web1"}, "web1 is already running.");

    // StartedAt: local time with its offset and the uptime for people, the number for scripts.
    auto status = ctl({"status", "web1"});
    EXPECT_EQ(status.status, 0) << status.output;
    EXPECT_TRUE(std::regex_search(
        status.output,
        std::regex("\n +StartedAt: \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d[+-]\\d\\d:\\d\\d "
                   "\\(up (\\d+m )?\\d+s\\)\n")))
        << status.output;
    auto json = ctl({"--json", "status", "web1"});
    EXPECT_TRUE(std::regex_search(json.output, std::regex("\"StartedAt\":\\d{16}[,}]")))
        << json.output;

    ASSERT_EQ(ctl({"pause", "web1"}).status, 0);
    expectRefused({"pause", "web1"}, "web1 is already paused.");
    expectRefused({"start", "web1"}, "web1 is already paused.");
    ASSERT_EQ(ctl({"resume", "web1"}).status, 0);
    ASSERT_EQ(ctl({"kill", "web1"}).status, 0);
    ASSERT_TRUE(waitProperty("web1", "State", "s \"stopped\"", 30s)) << property("web1", "State");
    expectRefused({"kill", "web1"}, "web1 is not running (state stopped).");
}

}  // namespace
}  // namespace corral::test

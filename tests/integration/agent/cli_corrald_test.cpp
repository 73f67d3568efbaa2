// negotiator-host with GUEST = a corral instance: the call goes through the real corrald on a
// private dbus-daemon, which owns the negotiator channel of a real TCG guest.
#include <gtest/gtest.h>

#include "tests/integration/supervisor/corrald_fixture.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;

class NegotiatorHostViaCorrald : public CorraldFixture {
  protected:
    CommandResult host(std::vector<std::string> args) {
        std::vector<std::string> argv = {NEGOTIATOR_HOST, "--bus-address", address_};
        argv.insert(argv.end(), args.begin(), args.end());
        return runCommand(argv, 90s, dir_.path());
    }
};

TEST_F(NegotiatorHostViaCorrald, ListsGuestsAndCommandsAndExecutes) {
    writeGuest("vm1");
    startCorrald();
    ASSERT_TRUE(waitProperty("vm1", "State", "s \"stopped\"", 10s)) << corraldLog();
    auto none = host({"--list-guests"});
    EXPECT_EQ(none.status, 0) << none.output;
    // None: an empty line, as the original prints it.
    EXPECT_EQ(none.output, "\n") << "a stopped guest is not listed";

    auto start = call("vm1", "Start");
    ASSERT_EQ(start.status, 0) << start.output << corraldLog();
    ASSERT_TRUE(waitProperty("vm1", "AgentConnected", "b true", 180s)) << corraldLog();

    auto guests = host({"-g"});
    EXPECT_EQ(guests.status, 0) << guests.output;
    EXPECT_EQ(guests.output, "vm1\n");

    auto uname = host({"-t", "30", "-e", "uname -s", "vm1"});
    EXPECT_EQ(uname.status, 0) << uname.output;
    EXPECT_EQ(uname.output, "Linux\n");

    auto commands = host({"--list-commands", "vm1"});
    EXPECT_EQ(commands.status, 0) << commands.output;
    EXPECT_EQ(commands.output,
              "find-disk-usage\nfind-distribution-codename\nfind-distribution-release\n"
              "find-distributor-id\nfind-ip-addresses\n");

    auto failed = host({"-e", "sh -c 'exit 3'", "vm1"});
    EXPECT_EQ(failed.status, 1);
    EXPECT_NE(failed.output.find("exit code 3"), std::string::npos) << failed.output;

    auto unknown = host({"-c", "nosuchvm"});
    EXPECT_EQ(unknown.status, 1);
    EXPECT_NE(unknown.output.find("nosuchvm"), std::string::npos) << unknown.output;
    auto invalid = host({"-c", "../etc"});
    EXPECT_EQ(invalid.status, 1);
    EXPECT_NE(invalid.output.find("invalid guest name"), std::string::npos) << invalid.output;

    EXPECT_EQ(call("vm1", "Kill").status, 0);
}

}  // namespace
}  // namespace corral::test

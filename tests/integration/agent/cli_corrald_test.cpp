// negotiator-host with GUEST = a corral instance: the call goes through the real corrald on a
// private dbus-daemon, which owns the negotiator channel of a real TCG guest. And what that
// guest's built-in commands tell about it: Instance.GuestInfo and `corralctl status`.
#include <gtest/gtest.h>

#include <fstream>

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

TEST_F(NegotiatorHostViaCorrald, GuestInfoShowsTheGuestsOsAndAddresses) {
    writeGuest("vm2");
    // A user-mode NIC: the image gives the NIC present at boot QEMU's guest address.
    std::ofstream(dir_ / "instances" / "vm2.toml", std::ios::app)
        << "\n[[nic]]\nid = \"net0\"\nmode = \"user\"\n";
    startCorrald();
    ASSERT_TRUE(waitProperty("vm2", "State", "s \"stopped\"", 10s)) << corraldLog();
    auto ctl = [&](std::vector<std::string> args) {
        std::vector<std::string> argv = {std::string(CORRAL_BINARY_DIR) + "/supervisor/corralctl",
                                         "--address", address_};
        argv.insert(argv.end(), args.begin(), args.end());
        return runCommand(argv, 90s, dir_.path());
    };
    // Without a running agent: status has no guest lines (and still works).
    auto stopped = ctl({"status", "vm2"});
    EXPECT_EQ(stopped.status, 0) << stopped.output;
    EXPECT_EQ(stopped.output.find("GuestOS"), std::string::npos) << stopped.output;

    auto start = call("vm2", "Start");
    ASSERT_EQ(start.status, 0) << start.output << corraldLog();
    ASSERT_TRUE(waitProperty("vm2", "AgentConnected", "b true", 180s)) << corraldLog();

    // The image's /etc/os-release and its two interfaces, from the guest's built-in commands.
    auto info = call("vm2", "GuestInfo");
    EXPECT_EQ(info.status, 0) << info.output << corraldLog();
    EXPECT_EQ(info.output,
              "sssas \"Corral\" \"1\" \"busybox\" 2 \"127.0.0.1/8\" \"10.0.2.15/24\"\n");

    auto status = ctl({"status", "vm2"});
    EXPECT_EQ(status.status, 0) << status.output;
    EXPECT_NE(status.output.find("         GuestOS: Corral\n"), std::string::npos) << status.output;
    EXPECT_NE(status.output.find("    GuestRelease: 1\n"), std::string::npos) << status.output;
    EXPECT_NE(status.output.find("   GuestCodename: busybox\n"), std::string::npos)
        << status.output;
    EXPECT_NE(status.output.find("  GuestAddresses: 127.0.0.1/8 10.0.2.15/24\n"), std::string::npos)
        << status.output;
    auto json = ctl({"--json", "status", "vm2"});
    EXPECT_EQ(json.status, 0) << json.output;
    EXPECT_NE(json.output.find(R"("GuestAddresses":["127.0.0.1/8","10.0.2.15/24"])"),
              std::string::npos)
        << json.output;
    EXPECT_NE(json.output.find(R"("GuestOS":"Corral")"), std::string::npos) << json.output;

    EXPECT_EQ(call("vm2", "Kill").status, 0);
}

}  // namespace
}  // namespace corral::test

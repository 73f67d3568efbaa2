// Device kinds end to end under corrald with the real guest (TCG): what the definition and the
// Attach methods ask for is what the guest kernel sees, also after a corrald upgrade reattached
// the VM from a state.json of the first format.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <thread>

#include "tests/integration/supervisor/corrald_fixture.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

class DeviceGuest : public CorraldFixture {
  protected:
    CommandResult ctl(std::vector<std::string> args) {
        std::vector<std::string> argv = {std::string(CORRAL_BINARY_DIR) + "/supervisor/corralctl",
                                         "--address", address_};
        argv.insert(argv.end(), args.begin(), args.end());
        return runCommand(argv, 60s, dir_.path());
    }

    // The test guest with `extra` TOML (device tables) after its own.
    void writeGuestWith(const std::string& name, const std::string& extra) {
        writeGuest(name);
        writeFile(name + ".toml", readFile(dir_ / "instances" / (name + ".toml")) + extra);
    }

    void startAndWaitForAgent(const std::string& name) {
        auto start = call(name, "Start");
        ASSERT_EQ(start.status, 0) << start.output << corraldLog();
        ASSERT_TRUE(waitProperty(name, "AgentConnected", "b true", 180s)) << corraldLog();
    }

    // A guest shell command's output (busctl's quoting left in place).
    std::string guest(const std::string& name, const std::string& shell) {
        return call(name, "GuestExecute", {"asst", "3", "sh", "-c", shell, "", "20000000"}).output;
    }

    // Polls a guest shell command until its output contains `text`, bounded.
    bool waitGuest(const std::string& name, const std::string& shell, const std::string& text) {
        auto deadline = std::chrono::steady_clock::now() + 30s;
        while (std::chrono::steady_clock::now() < deadline) {
            if (guest(name, shell).find(text) != std::string::npos) return true;
            std::this_thread::sleep_for(200ms);
        }
        return false;
    }

    std::filesystem::path image(const std::string& name) {
        auto path = dir_ / name;
        std::ofstream(path).close();
        std::filesystem::resize_file(path, 8 << 20);  // 16384 sectors
        return path;
    }
};

TEST_F(DeviceGuest, DefinedAndAttachedDevicesReachTheGuest) {
    writeGuestWith("g1", "\n[[disk]]\nid = \"data\"\npath = \"" + image("data.img").string() +
                             "\"\nreadonly = true\n");
    startCorrald();
    startAndWaitForAgent("g1");
    EXPECT_TRUE(waitGuest("g1", "cat /sys/block/vda/size /sys/block/vda/ro", "16384\\n1\\n"))
        << guest("g1", "ls /sys/block");

    auto nic = ctl({"attach", "g1", "nic", "lan", "--option", "mac=52:54:00:12:00:02"});
    ASSERT_EQ(nic.status, 0) << nic.output << corraldLog();
    EXPECT_TRUE(waitGuest("g1", "cat /sys/class/net/eth0/address", "52:54:00:12:00:02"))
        << guest("g1", "ls /sys/class/net");
    auto detached = ctl({"detach", "g1", "lan"});
    EXPECT_EQ(detached.status, 0) << detached.output;
    EXPECT_TRUE(waitGuest("g1", "echo $(ls /sys/class/net)", "\"lo\\n\""));
    EXPECT_THAT(property("g1", "Devices"), ::testing::Not(HasSubstr("\"lan\"")));
    EXPECT_EQ(call("g1", "Kill").status, 0);
}

// A NIC attached under the first state.json format (no options recorded) is detached by a new
// corrald through its recorded kind: the unplug completes and its netdev goes, so the id attaches
// again.
TEST_F(DeviceGuest, DeviceRecordedInTheFirstFormatIsDetachedAfterAnUpgrade) {
    writeGuest("g2");
    startCorrald();
    startAndWaitForAgent("g2");
    ASSERT_EQ(call("g2", "AttachNic", {"sa{sv}", "lan", "0"}).status, 0) << corraldLog();
    ASSERT_TRUE(waitGuest("g2", "ls /sys/class/net", "eth0"));
    killCorrald();
    auto file = dir_ / "run" / "g2" / "state.json";
    auto text = readFile(file);
    std::ofstream(file, std::ios::trunc)
        << std::regex_replace(text, std::regex(R"(,"options":\{[^}]*\})"), "");

    startCorrald();
    ASSERT_TRUE(waitProperty("g2", "State", "s \"running\"", 20s)) << corraldLog();
    auto detached = call("g2", "Detach", {"s", "lan"});
    ASSERT_EQ(detached.status, 0) << detached.output << corraldLog();
    EXPECT_TRUE(waitGuest("g2", "echo $(ls /sys/class/net)", "\"lo\\n\""));
    EXPECT_THAT(call("g2", "Monitor",
                     {"s", R"({"execute":"human-monitor-command",)"
                           R"("arguments":{"command-line":"info network"}})"})
                    .output,
                ::testing::Not(HasSubstr("lan-netdev")));
    auto again = call("g2", "AttachNic", {"sa{sv}", "lan", "0"});
    EXPECT_EQ(again.status, 0) << again.output;
    EXPECT_EQ(call("g2", "Kill").status, 0);
}

}  // namespace
}  // namespace corral::test

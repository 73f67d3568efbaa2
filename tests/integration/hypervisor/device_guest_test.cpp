// Device kinds end to end under corrald with the real guest (TCG): what the definition and the
// Attach methods ask for is what the guest kernel sees (disks, NICs, virtio-rng), also after a
// corrald upgrade reattached the VM from a state.json of the first format.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <thread>

#include "tests/integration/hypervisor/corralctl_run.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

class DeviceGuest : public CorraldFixture {
  protected:
    CommandResult ctl(const std::vector<std::string>& args) {
        return corralctl(address_, args, dir_.path());
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
    EXPECT_TRUE(waitGuest("g1", "echo $(ls /sys/class/net)", "\"lo\""));
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
    EXPECT_TRUE(waitGuest("g2", "echo $(ls /sys/class/net)", "\"lo\""));
    EXPECT_THAT(call("g2", "Monitor",
                     {"s", R"({"execute":"human-monitor-command",)"
                           R"("arguments":{"command-line":"info network"}})"})
                    .output,
                ::testing::Not(HasSubstr("lan-netdev")));
    auto again = call("g2", "AttachNic", {"sa{sv}", "lan", "0"});
    EXPECT_EQ(again.status, 0) << again.output;
    EXPECT_EQ(call("g2", "Kill").status, 0);
}

// virtio-rng: the definition's rng is the guest's hw_random source at boot; one hotplugged with
// AttachDevice joins it and goes again on Detach.
TEST_F(DeviceGuest, RngOfTheDefinitionFeedsTheGuestAndAHotpluggedOneJoins) {
    writeGuestWith("r1", "\n[[rng]]\nid = \"entropy\"\nbackend = \"/dev/urandom\"\n");
    startCorrald();
    startAndWaitForAgent("r1");
    const std::string sysfs = "/sys/class/misc/hw_random/";
    EXPECT_TRUE(waitGuest("r1", "cat " + sysfs + "rng_current", "virtio_rng.0"))
        << guest("r1", "cat " + sysfs + "rng_current");
    EXPECT_EQ(guest("r1", "head -c 16 /dev/hwrng | wc -c"), "s \"16\"\n");

    auto attached = call("r1", "AttachDevice", {"ssa{sv}", "rng", "hot", "0"});
    ASSERT_EQ(attached.status, 0) << attached.output << corraldLog();
    EXPECT_TRUE(waitGuest("r1", "cat " + sysfs + "rng_available", "virtio_rng.1"))
        << guest("r1", "cat " + sysfs + "rng_available");
    EXPECT_THAT(property("r1", "Devices"), HasSubstr("\"hot\" \"rng\""));

    auto detached = call("r1", "Detach", {"s", "hot"});
    ASSERT_EQ(detached.status, 0) << detached.output << corraldLog();
    EXPECT_TRUE(waitGuest("r1", "echo $(cat " + sysfs + "rng_available)", "\"virtio_rng.0\""));
    auto objects =
        call("r1", "Monitor", {"s", R"({"execute":"qom-list","arguments":{"path":"/objects"}})"});
    EXPECT_THAT(objects.output, HasSubstr("entropy-rng"));
    EXPECT_THAT(objects.output, ::testing::Not(HasSubstr("hot-rng")));
    EXPECT_EQ(call("r1", "Kill").status, 0);
}

// A guest without an rng gets /dev/hwrng from one hotplugged with `corralctl attach`.
TEST_F(DeviceGuest, HotpluggedRngBecomesTheGuestsHwrng) {
    writeGuest("r2");
    startCorrald();
    startAndWaitForAgent("r2");
    const std::string current = "cat /sys/class/misc/hw_random/rng_current";
    EXPECT_EQ(guest("r2", current), "s \"none\"\n");
    auto attached = ctl({"attach", "r2", "rng", "entropy"});
    ASSERT_EQ(attached.status, 0) << attached.output << corraldLog();
    EXPECT_TRUE(waitGuest("r2", current, "virtio_rng.0")) << guest("r2", current);
    EXPECT_EQ(guest("r2", "head -c 16 /dev/hwrng | wc -c"), "s \"16\"\n");
    EXPECT_EQ(call("r2", "Kill").status, 0);
}

}  // namespace
}  // namespace corral::test

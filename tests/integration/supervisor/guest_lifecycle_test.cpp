// Real guests (TCG) under corrald, driven only through busctl: every Instance method, the
// PropertiesChanged stream, guest poweroff, crash + restart, and ACPI escalation.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <thread>

#include "tests/integration/supervisor/corrald_fixture.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;

class GuestLifecycle : public CorraldFixture {
  protected:
    void startAndWaitForAgent(const std::string& name) {
        auto start = call(name, "Start");
        ASSERT_EQ(start.status, 0) << start.output << corraldLog();
        ASSERT_EQ(property(name, "State"), "s \"running\"");
        ASSERT_TRUE(waitProperty(name, "AgentConnected", "b true", 180s)) << corraldLog();
    }
    CommandResult exec(const std::string& name, const std::string& shell) {
        return call(name, "GuestExecute", {"asst", "3", "sh", "-c", shell, "", "20000000"});
    }
    // Polls a guest shell command until its output contains `text`, bounded.
    bool waitGuest(const std::string& name, const std::string& shell, const std::string& text) {
        auto deadline = std::chrono::steady_clock::now() + 30s;
        while (std::chrono::steady_clock::now() < deadline) {
            if (exec(name, shell).output.find(text) != std::string::npos) return true;
            std::this_thread::sleep_for(200ms);
        }
        return false;
    }
};

TEST_F(GuestLifecycle, EveryMethodThroughBusctl) {
    GuestOptions options;
    options.machine = "q35";
    options.extraCmdline = " corral.acpi=ignore";  // a guest that ignores the power button
    writeGuest("vm1", options);
    startCorrald();
    auto monitorLog = dir_ / "monitor.log";
    auto monitor =
        Process::spawn({"busctl", "--address", address_, "monitor", "org.corral1"}, monitorLog);
    ASSERT_TRUE(waitProperty("vm1", "State", "s \"stopped\"", 10s));

    startAndWaitForAgent("vm1");
    EXPECT_NE(pid("vm1"), 0);
    EXPECT_NE(property("vm1", "StartedAt"), "t 0");

    auto uname = call("vm1", "GuestExecute", {"asst", "2", "uname", "-s", "", "0"});
    EXPECT_EQ(uname.output, "s \"Linux\"\n");
    auto commands = call("vm1", "GuestListCommands");
    EXPECT_EQ(commands.status, 0) << commands.output;
    auto qmp = call("vm1", "Monitor", {"s", R"({"execute":"query-status"})"});
    EXPECT_NE(qmp.output.find("\\\"running\\\":true"), std::string::npos) << qmp.output;
    auto badQmp = call("vm1", "Monitor", {"s", "not json"});
    EXPECT_NE(badQmp.status, 0);

    EXPECT_EQ(call("vm1", "Pause").status, 0);
    EXPECT_EQ(property("vm1", "State"), "s \"paused\"");
    EXPECT_EQ(call("vm1", "Resume").status, 0);
    EXPECT_EQ(property("vm1", "State"), "s \"running\"");

    auto image = dir_ / "data0.img";
    std::ofstream(image).close();
    std::filesystem::resize_file(image, 64 << 20);
    auto attach = call("vm1", "AttachDisk",
                       {"ssa{sv}", "data0", image.string(), "1", "readonly", "b", "true"});
    ASSERT_EQ(attach.status, 0) << attach.output << corraldLog();
    EXPECT_NE(property("vm1", "Devices").find("\"data0\" \"disk\""), std::string::npos);
    EXPECT_TRUE(waitGuest("vm1", "cat /sys/block/vd*/size", "131072")) << corraldLog();
    auto detach = call("vm1", "Detach", {"s", "data0"});
    EXPECT_EQ(detach.status, 0) << detach.output;
    EXPECT_EQ(property("vm1", "Devices").find("data0"), std::string::npos);
    auto nic = call("vm1", "AttachNic", {"sa{sv}", "net1", "1", "mode", "s", "user"});
    EXPECT_EQ(nic.status, 0) << nic.output;
    EXPECT_EQ(call("vm1", "Detach", {"s", "net1"}).status, 0);
    EXPECT_EQ(call("vm1", "Reset").status, 0);
    EXPECT_EQ(property("vm1", "State"), "s \"running\"");

    // A second lifecycle request while one runs is refused with a sentence.
    auto slow =
        Process::spawn({"busctl", "--address", address_, "--timeout=60", "call", "org.corral1",
                        path("vm1"), "org.corral1.Instance", "Shutdown", "t", "2000000"});
    ASSERT_TRUE(waitProperty("vm1", "State", "s \"shutting-down\"", 10s));
    auto busy = call("vm1", "Reboot");
    EXPECT_NE(busy.status, 0);
    EXPECT_NE(busy.output.find("vm1 is shutting down"), std::string::npos) << busy.output;

    // corral.acpi=ignore: the guest ignores the powerdown, so the 2 s timeout escalates to quit.
    auto status = slow.wait(20s);
    ASSERT_TRUE(status);
    EXPECT_EQ(property("vm1", "State"), "s \"stopped\"");
    EXPECT_EQ(property("vm1", "LastExit"),
              "s \"host-shutdown: guest ignored ACPI powerdown, quit\"");
    EXPECT_EQ(pid("vm1"), 0);

    ASSERT_EQ(call("vm1", "Start").status, 0);
    EXPECT_EQ(call("vm1", "Kill").status, 0);
    EXPECT_EQ(property("vm1", "State"), "s \"stopped\"");
    EXPECT_EQ(property("vm1", "LastExit"), "s \"killed\"");

    ASSERT_EQ(call("vm1", "Start").status, 0);
    auto before = pid("vm1");
    auto reboot = call("vm1", "Reboot");
    EXPECT_EQ(reboot.status, 0) << reboot.output;
    EXPECT_EQ(property("vm1", "State"), "s \"running\"");
    EXPECT_NE(pid("vm1"), before);
    EXPECT_EQ(call("vm1", "Kill").status, 0);

    auto signals = readFile(monitorLog);
    EXPECT_NE(signals.find("Member=PropertiesChanged"), std::string::npos);
    EXPECT_NE(signals.find("\"shutting-down\""), std::string::npos);
    EXPECT_NE(signals.find("\"paused\""), std::string::npos);
}

TEST_F(GuestLifecycle, GuestCallsHostThenPowersOff) {
    writeGuest("vm1");
    startCorrald();
    {
        std::ofstream script(dir_ / "commands" / "whoami-host");
        script << "#!/bin/sh\necho \"guest is $NEGOTIATOR_GUEST\"\n";
    }
    std::filesystem::permissions(dir_ / "commands" / "whoami-host",
                                 std::filesystem::perms::owner_all);
    startAndWaitForAgent("vm1");
    // Guest -> host: the guest's negotiator client asks corrald's HostResponder.
    auto host = exec("vm1", "negotiator-guest -e whoami-host");
    EXPECT_EQ(host.output, "s \"guest is vm1\"\n") << host.output << corraldLog();
    // The guest dies while answering: the call's own result does not matter.
    call("vm1", "GuestExecute", {"asst", "2", "poweroff", "-f", "", "5000000"});
    EXPECT_TRUE(waitProperty("vm1", "State", "s \"stopped\"", 30s)) << corraldLog();
    EXPECT_EQ(property("vm1", "LastExit"), "s \"guest-poweroff\"");
}

// [machine] uuid reaches the guest's SMBIOS through qemu's -uuid; without it the UUID derived
// from the name (hypervisor/machine_uuid.hpp) is the Uuid property.
TEST_F(GuestLifecycle, TheGuestSeesTheVmUuid) {
    writeGuest("vm1");
    auto text = readFile(dir_ / "instances" / "vm1.toml");
    auto machine = text.find("[machine]\n");
    ASSERT_NE(machine, std::string::npos);
    text.insert(machine + 10, "uuid = \"0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D\"\n");
    writeFile("vm1.toml", text);
    writeGuest("vm2");
    startCorrald();
    ASSERT_TRUE(waitProperty("vm2", "State", "s \"stopped\"", 10s)) << corraldLog();
    EXPECT_EQ(property("vm2", "Uuid"), "s \"92ae3f64-c4d9-515c-a582-3ab4a07c0fe8\"");
    EXPECT_EQ(property("vm1", "Uuid"), "s \"0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d\"");
    startAndWaitForAgent("vm1");
    auto smbios = exec("vm1", "cat /sys/class/dmi/id/product_uuid");
    EXPECT_EQ(smbios.output, "s \"0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d\"\n") << smbios.output;
}

TEST_F(GuestLifecycle, KillNineIsACrashAndRestarts) {
    GuestOptions options;
    options.onCrash = "restart";
    writeGuest("vm1", options);
    startCorrald();
    ASSERT_EQ(call("vm1", "Start").status, 0);
    auto first = pid("vm1");
    ASSERT_GT(first, 0);
    auto killedAt = std::chrono::steady_clock::now();
    ::kill(first, SIGKILL);
    ASSERT_TRUE(waitProperty("vm1", "State", "s \"crashed\"", 1s)) << corraldLog();
    auto seen = std::chrono::steady_clock::now() - killedAt;
    std::printf("[ figure ] crash seen after %lld ms\n",
                static_cast<long long>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(seen).count()));
    EXPECT_EQ(property("vm1", "LastExit"), "s \"crashed: killed by signal 9\"");
    ASSERT_TRUE(waitProperty("vm1", "State", "s \"running\"", 30s)) << corraldLog();
    EXPECT_NE(pid("vm1"), first);
}

}  // namespace
}  // namespace corral::test

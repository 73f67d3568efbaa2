// qemu-guest-agent ([agent] qemu_ga = true) against a real guest under TCG running Debian's
// qemu-ga: QemuGaConnected comes up, GuestInfo reports the guest's OS and address from qemu-ga
// when no negotiator agent is there, Shutdown of a guest that ignores ACPI goes through
// guest-shutdown, and with qemu-ga gone it falls back to ACPI (and the property goes down).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "tests/integration/supervisor/corrald_fixture.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class QemuGaGuest : public CorraldFixture {
  protected:
    // The test guest with qemu-ga's port, a user-mode NIC (the guest takes 10.0.2.15/24) and the
    // negotiator agent as `negotiator` says.
    void writeQemuGaGuest(bool negotiator, const GuestOptions& options) {
        writeGuest("vm1", options);
        auto file = dir_ / "instances" / "vm1.toml";
        std::ifstream in(file);
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        auto at = text.find("[agent]\nnegotiator = true\n");
        ASSERT_NE(at, std::string::npos) << text;
        text.replace(at, 26,
                     std::string("[agent]\nnegotiator = ") + (negotiator ? "true" : "false") +
                         "\nqemu_ga = true\n");
        text += "\n[[nic]]\nid = \"lan\"\n";
        writeFile("vm1.toml", text);
    }
    std::string consoleLog() const {
        std::ifstream in(dir_ / "log" / "vm1" / "console.log");
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }
    bool stopped(std::chrono::milliseconds timeout) {
        return waitProperty("vm1", "State", "s \"stopped\"", timeout);
    }
};

TEST_F(QemuGaGuest, GuestInfoFromQemuGaAndShutdownThroughItWhenTheGuestIgnoresAcpi) {
    GuestOptions options;
    options.extraCmdline = " corral.acpi=ignore";
    options.shutdownTimeout = "300s";  // the escalation to quit would also stop it: far away
    writeQemuGaGuest(false, options);
    startCorrald();
    EXPECT_EQ(property("vm1", "QemuGaConnected"), "b false");
    ASSERT_EQ(call("vm1", "Start").status, 0) << corraldLog();
    ASSERT_TRUE(waitProperty("vm1", "QemuGaConnected", "b true", 180s)) << corraldLog();
    EXPECT_EQ(property("vm1", "AgentConnected"), "b false");

    auto info = call("vm1", "GuestInfo", {}, 60s);
    ASSERT_EQ(info.status, 0) << info.output << corraldLog();
    // /etc/os-release of the image (NAME, VERSION_ID) and init.sh's address on the NIC.
    EXPECT_NE(info.output.find("\"Corral test guest\" \"1\""), std::string::npos) << info.output;
    EXPECT_NE(info.output.find("\"10.0.2.15/24\""), std::string::npos) << info.output;
    EXPECT_NE(info.output.find("\"127.0.0.1/8\""), std::string::npos) << info.output;

    auto began = std::chrono::steady_clock::now();
    ASSERT_EQ(call("vm1", "Shutdown", {"t", "0"}, 120s).status, 0) << corraldLog();
    ASSERT_TRUE(stopped(120s)) << corraldLog();
    auto took = std::chrono::steady_clock::now() - began;
    // The image's /sbin/shutdown, which only qemu-ga's guest-shutdown runs, said so; the power
    // button was never watched.
    auto console = consoleLog();
    EXPECT_NE(console.find("corral-guest: shutdown -h -P +0"), std::string::npos) << console;
    EXPECT_EQ(console.find("corral-guest: power button"), std::string::npos) << console;
    EXPECT_NE(corraldLog().find("asked qemu-guest-agent to power off"), std::string::npos)
        << corraldLog();
    EXPECT_EQ(corraldLog().find("sending quit"), std::string::npos) << corraldLog();
    EXPECT_LT(took, 240s);
    EXPECT_EQ(property("vm1", "QemuGaConnected"), "b false");
}

TEST_F(QemuGaGuest, ShutdownFallsBackToAcpiWhenQemuGaDoesNotAnswer) {
    GuestOptions options;
    options.shutdownTimeout = "300s";
    writeQemuGaGuest(true, options);
    startCorrald();
    ASSERT_EQ(call("vm1", "Start").status, 0) << corraldLog();
    ASSERT_TRUE(waitProperty("vm1", "QemuGaConnected", "b true", 180s)) << corraldLog();
    ASSERT_TRUE(waitProperty("vm1", "AgentConnected", "b true", 180s)) << corraldLog();
    // With both agents GuestInfo comes from the negotiator's built-in commands.
    auto info = call("vm1", "GuestInfo", {}, 60s);
    ASSERT_EQ(info.status, 0) << info.output;
    EXPECT_NE(info.output.find("\"10.0.2.15/24\""), std::string::npos) << info.output;

    auto killed =
        call("vm1", "GuestExecute",
             {"asst", "3", "sh", "-c", "kill $(cat /run/qemu-ga.pid) && echo gone", "", "30000000"},
             60s);
    ASSERT_NE(killed.output.find("gone"), std::string::npos) << killed.output;
    ASSERT_TRUE(waitProperty("vm1", "QemuGaConnected", "b false", 60s)) << corraldLog();

    ASSERT_EQ(call("vm1", "Shutdown", {"t", "0"}, 120s).status, 0) << corraldLog();
    ASSERT_TRUE(stopped(120s)) << corraldLog();
    auto console = consoleLog();
    EXPECT_NE(console.find("corral-guest: power button\r"), std::string::npos) << console;
    EXPECT_EQ(console.find("corral-guest: shutdown"), std::string::npos) << console;
    EXPECT_NE(corraldLog().find("ACPI powerdown instead"), std::string::npos) << corraldLog();
}

}  // namespace
}  // namespace corral::test

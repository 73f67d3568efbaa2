// corrald SIGKILLed while a real guest (TCG) completes an unplug it was asked for: nobody hears
// DEVICE_DELETED, so the restarted corrald must notice the device is gone, forget it, delete
// its block nodes, and let the same id attach again (the guest sees it).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <thread>

#include "hypervisor/launch.hpp"
#include "monitor/qmp_client.hpp"
#include "tests/integration/hypervisor/run_async.hpp"
#include "tests/integration/supervisor/corrald_fixture.hpp"
#include "tests/reliability/qmp_queues.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;
using boost::asio::any_io_executor;
using ::testing::HasSubstr;
using ::testing::Not;

// Whether qemu still has a device `id`, asked over a QMP connection of our own.
boost::asio::awaitable<bool> hasDevice(std::shared_ptr<monitor::QmpClient> qmp, std::string id) {
    auto reply = co_await qmp->execute(
        "qom-list", monitor::JsonObject().set("path", "/machine/peripheral").take());
    if (!reply) throw std::runtime_error(reply.error().message);
    co_return monitor::toJsonString(*reply).find("\"" + id + "\"") != std::string::npos;
}

class GuestHotplugFaults : public CorraldFixture {
  protected:
    CommandResult exec(const std::string& shell) {
        return call("vm1", "GuestExecute", {"asst", "3", "sh", "-c", shell, "", "20000000"});
    }
    // Polls a guest shell command until its output does (or does not) contain `text`, bounded.
    bool waitGuest(const std::string& shell, const std::string& text, bool present = true) {
        auto deadline = std::chrono::steady_clock::now() + 30s;
        while (std::chrono::steady_clock::now() < deadline) {
            if ((exec(shell).output.find(text) != std::string::npos) == present) return true;
            std::this_thread::sleep_for(200ms);
        }
        return false;
    }
};

TEST_F(GuestHotplugFaults, UnplugCompletedWhileCorraldIsDeadIsForgottenAndTheIdAttaches) {
    writeGuest("vm1");
    startCorrald();
    ASSERT_EQ(call("vm1", "Start").status, 0) << corraldLog();
    ASSERT_TRUE(waitProperty("vm1", "AgentConnected", "b true", 180s)) << corraldLog();
    auto image = dir_ / "d1.img";
    std::ofstream(image).close();
    std::filesystem::resize_file(image, 8 << 20);
    auto attach = call("vm1", "AttachDisk", {"ssa{sv}", "d1", image.string(), "0"});
    ASSERT_EQ(attach.status, 0) << attach.output;
    ASSERT_TRUE(waitGuest("ls /sys/block", "vda"));
    pid_t qemu = pid("vm1");
    auto socket = hypervisor::RuntimePaths::forInstance(dir_ / "run", "vm1").qmpSocket;

    // device_del reaches qemu and is answered, but corrald never reads the answer.
    ::kill(qemu, SIGSTOP);
    auto detach = Process::spawn({"busctl", "--address", address_, "call", "org.corral1",
                                  path("vm1"), "org.corral1.Instance", "Detach", "s", "d1"});
    ASSERT_TRUE(waitQueued(socket, dir_.path())) << corraldLog();
    ::kill(corrald_.pid(), SIGSTOP);
    ::kill(qemu, SIGCONT);
    ASSERT_TRUE(waitReplied(socket, dir_.path()));
    killCorrald();
    detach.wait(10s);

    // The guest ejects the disk with nobody listening; watch over a connection of our own.
    boost::asio::io_context io;
    auto qmp = monitor::QmpClient::create(io.get_executor());
    auto connected =
        runAsync(io, [&](any_io_executor) { return qmp->connect(socket.string(), 10s); });
    ASSERT_TRUE(connected) << connected.error().message;
    auto deadline = std::chrono::steady_clock::now() + 60s;
    bool present = true;
    while (present && std::chrono::steady_clock::now() < deadline) {
        present = runAsync(io, [&](any_io_executor) { return hasDevice(qmp, "d1"); });
        if (present) std::this_thread::sleep_for(100ms);
    }
    qmp->close();
    ASSERT_FALSE(present) << "the guest did not release d1";

    startCorrald();
    EXPECT_EQ(property("vm1", "State"), "s \"running\"");
    EXPECT_EQ(pid("vm1"), qemu);
    EXPECT_THAT(property("vm1", "Devices"), Not(HasSubstr("d1")));
    std::string problem;
    auto state =
        hypervisor::readState(hypervisor::RuntimePaths::forInstance(dir_ / "run", "vm1"), problem);
    ASSERT_TRUE(state) << problem;
    for (const auto& d : state->devices) EXPECT_NE(d.id, "d1");
    auto log = corraldLog();
    EXPECT_THAT(log, HasSubstr("device d1 in state.json is gone from QEMU; forgetting it"));
    EXPECT_THAT(log, HasSubstr("removed leftover block node d1-format"));
    EXPECT_THAT(log, HasSubstr("removed leftover block node d1-file"));

    auto again = call("vm1", "AttachDisk", {"ssa{sv}", "d1", image.string(), "0"});
    EXPECT_EQ(again.status, 0) << again.output << corraldLog();
    EXPECT_TRUE(waitGuest("ls /sys/block", "vda"));
}

}  // namespace
}  // namespace corral::test

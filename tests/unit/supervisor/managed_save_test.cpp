// Managed save without qemu: the saved-state header (what a restore trusts) and the host
// shutdown phase with on_shutdown = "suspend" (saved VMs stop; one whose save fails gets the
// graceful shutdown instead).
#include "supervisor/managed_save.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>

#include "supervisor/host_shutdown.hpp"
#include "tests/unit/supervisor/fake_vm.hpp"

namespace corral::supervisor::test {
namespace {

using namespace std::chrono_literals;

hypervisor::Device hotpluggedDisk() {
    hypervisor::Device d;
    d.id = "data0";
    d.kind = hypervisor::findKind("disk");
    d.hotplugged = true;
    d.slot.bus = "corral-hp0";
    d.slot.slot = 0;
    return d;
}

TEST(SavedHeader, RoundTripsReasonRunningAndTheDeviceRecords) {
    SavedHeader header;
    header.reason = SaveReason::HostShutdown;
    header.running = false;
    header.devices.push_back(hotpluggedDisk());
    auto text = savedHeaderText(header);
    std::string why;
    auto back = parseSavedHeader(text + "QEVM stream", why);
    ASSERT_TRUE(back) << why;
    EXPECT_EQ(back->reason, SaveReason::HostShutdown);
    EXPECT_FALSE(back->running);
    ASSERT_EQ(back->devices.size(), 1u);
    EXPECT_EQ(back->devices[0].id, "data0");
    EXPECT_TRUE(back->devices[0].hotplugged);
    EXPECT_EQ(back->devices[0].slot.bus, "corral-hp0");
    EXPECT_EQ(back->streamOffset, static_cast<off_t>(text.size()));
}

TEST(SavedHeader, RefusesWhatIsNotAWholeHeaderWithAReason) {
    auto refusal = [](std::string text) {
        std::string why;
        EXPECT_FALSE(parseSavedHeader(text, why)) << text;
        return why;
    };
    auto good = savedHeaderText(SavedHeader{});
    EXPECT_EQ(refusal("QEVM\x00\x00\x00\x03 raw stream\n\n\n\n\n"),
              "it is not a corral saved state (no 'corral-saved-state 1' header)");
    EXPECT_EQ(refusal(good.substr(0, good.size() - 3)),
              "its header is incomplete (truncated file?)");
    EXPECT_EQ(refusal(""), "its header is incomplete (truncated file?)");
    EXPECT_EQ(refusal("corral-saved-state 1\nreason nap\nrunning 1\ndevices []\n\n"),
              "its header is damaged");
    EXPECT_EQ(refusal("corral-saved-state 1\nreason save\nrunning 2\ndevices []\n\n"),
              "its header is damaged");
    EXPECT_EQ(refusal("corral-saved-state 1\nreason save\nrunning 1\ndevices []\nx\n"),
              "its header is damaged");
    EXPECT_EQ(refusal("corral-saved-state 1\nreason save\nrunning 1\ndevices {\n\n"),
              "its device records are damaged (the device list is not a JSON array)");
}

TEST(SavedHeader, PathsLieInTheInstancesStateDir) {
    EXPECT_EQ(savedStatePath("/var/lib/corral", "vm1"), "/var/lib/corral/vm1/saved.state");
    EXPECT_EQ(savingStatePath("/var/lib/corral", "vm1"), "/var/lib/corral/vm1/saved.state.tmp");
}

class SuspendTest : public ::testing::Test {
  protected:
    SuspendTest() {
        for (auto* vm : {&vmA, &vmB}) vm->autoLaunchPid = 100;
        for (auto* i : {&a, &b}) i->start([](Status) {});
    }
    LogSink sink() {
        return [this](int, const std::string& line) { logs.push_back(line); };
    }
    std::size_t powerdowns(const FakeVm& vm) const {
        return std::count(vm.commands.begin(), vm.commands.end(), VmCommand::Powerdown);
    }

    FakeClock clock;
    FakeVm vmA, vmB;
    std::vector<std::string> logs;
    Instance a{"a", vmA, clock, LifecyclePolicy{120s, false}, sink()};
    Instance b{"b", vmB, clock, LifecyclePolicy{120s, false}, sink()};
    std::vector<std::string> saved;
    std::optional<HostShutdownResult> result;
};

TEST_F(SuspendTest, EveryVmIsSavedAndOneWhoseSaveFailsIsShutDown) {
    HostShutdown phase(
        {&a, &b}, clock, 300s, sink(), [this](const HostShutdownResult& r) { result = r; },
        [this](const std::string& name, Done done) {
            saved.push_back(name);
            if (name == "a") {
                a.savedAway("host-shutdown: saved", [](Status) {});
                return done(okStatus());
            }
            done(OpError{ErrorKind::Failed, "Saving b failed: no space left"});
        });
    EXPECT_EQ(saved, (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(powerdowns(vmA), 0u);
    EXPECT_EQ(powerdowns(vmB), 1u);  // the fallback
    EXPECT_EQ(b.state(), State::ShuttingDown);
    vmA.exit({true, 0});
    vmB.exit({true, 0});
    ASSERT_TRUE(result);
    EXPECT_EQ(result->stopped, (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(a.lastExit(), "host-shutdown: saved");
    EXPECT_EQ(b.lastExit(), "host-shutdown");
    EXPECT_TRUE(std::any_of(logs.begin(), logs.end(), [](const std::string& l) {
        return l == "host shutdown: Saving b failed: no space left; shutting it down instead";
    }));
}

}  // namespace
}  // namespace corral::supervisor::test

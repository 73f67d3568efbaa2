// The real guest kernel sees what Hotplug does, on pc and q35 (TCG): a hot-added disk appears as
// /sys/block/vd* with the right size, a NIC on a tap in a bridge (inside a private network
// namespace) appears as eth* and answers ping from the namespace; after detach both are gone,
// DEVICE_DELETED was seen (detach waits for it), the slots are free and no fd leaked.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/integration/hypervisor/hotplug_fixture.hpp"
#include "tests/integration/hypervisor/net_namespace.hpp"
#include "tests/support/serial_console.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;
using hypervisor::toString;
using ::testing::HasSubstr;
using ::testing::Not;

// Guest-side bounded poll: runs `check` every 0.2 s for up to 30 s inside the guest.
std::string until(const std::string& check) {
    return "for i in $(seq 150); do " + check + " && break; sleep 0.2; done; " + check;
}

using Clock = std::chrono::steady_clock;

long long msSince(Clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

class GuestHotplug : public HotplugFixture, public ::testing::WithParamInterface<MachineType> {
  protected:
    // Block node and PCI ownership as QEMU reports them, to compare before/after.
    std::string qemuDevices() {
        auto reported = runAsync(io_, [&](any_io_executor) { return hotplug_->reconcile(); });
        std::string out = state().substr(state().find('\n') + 1);  // drop raw query-pci
        if (reported) {
            for (const auto& slot : *reported) {
                out += slot.bus + ":" + std::to_string(slot.slot) + "=" + slot.deviceId + " ";
            }
        }
        return out;
    }
};

TEST_P(GuestHotplug, DiskAndBridgedNicAppearInGuestAndGoAway) {
    NetNamespace netns;
    netns.run({"ip", "link", "add", "br0", "type", "bridge"});
    netns.run({"ip", "addr", "add", "10.99.0.1/24", "dev", "br0"});
    netns.run({"ip", "link", "set", "br0", "up"});

    start(GetParam(), 2);
    ASSERT_TRUE(runAsync(io_, [&](any_io_executor) { return vm_->qmp->execute("cont"); }));
    SerialConsole console(vm_->paths.serialSocket);
    ASSERT_TRUE(console.waitFor(std::regex("corral-guest: userspace ready"), 90s))
        << console.transcript();

    int fds = openFdCount();
    auto before = qemuDevices();

    auto start = Clock::now();
    auto disk = attachDisk("data", image("data.img"));  // 8 MiB = 16384 sectors
    ASSERT_TRUE(disk) << disk.error().message;
    auto diskQmp = msSince(start);
    auto blocks =
        console.run(until("grep -q 16384 /sys/block/vd*/size 2>/dev/null") +
                        " && for d in /sys/block/vd*; do echo ${d##*/} $(cat $d/size); done",
                    60s);
    ASSERT_TRUE(blocks) << console.transcript();
    EXPECT_THAT(blocks->text, HasSubstr("vda 16384"));
    auto diskGuest = msSince(start);

    auto added =
        attachNic("lan", {{"mode", "bridge"}, {"bridge", "br0"}, {"mac", "52:54:00:99:00:02"}});
    ASSERT_TRUE(added) << added.error().message;
    auto link = console.run(until("[ -e /sys/class/net/eth0 ]") +
                                " && cat /sys/class/net/eth0/address"
                                " && ip addr add 10.99.0.2/24 dev eth0 && ip link set eth0 up",
                            60s);
    ASSERT_TRUE(link) << console.transcript();
    EXPECT_EQ(link->status, 0) << link->text;
    EXPECT_THAT(link->text, HasSubstr("52:54:00:99:00:02"));
    EXPECT_THAT(netns.run({"busybox", "ping", "-c", "1", "-w", "20", "10.99.0.2"}),
                HasSubstr("1 packets received"));

    start = Clock::now();
    auto diskGone = detach("data");
    ASSERT_TRUE(diskGone) << diskGone.error().message;
    auto diskDetach = msSince(start);
    start = Clock::now();
    auto nicGone = detach("lan");
    ASSERT_TRUE(nicGone) << nicGone.error().message;
    auto nicDetach = msSince(start);
    std::printf(
        "[ figures ] %s: disk attach %lld ms (QMP), %lld ms (seen by guest); "
        "detach (DEVICE_DELETED) disk %lld ms, nic %lld ms\n",
        std::string(toString(GetParam())).c_str(), diskQmp, diskGuest, diskDetach, nicDetach);
    auto after = console.run(until("! ls /sys/block/vda /sys/class/net/eth0 >/dev/null 2>&1") +
                                 "; ls /sys/block /sys/class/net",
                             60s);
    ASSERT_TRUE(after) << console.transcript();
    EXPECT_THAT(after->text, Not(HasSubstr("vda")));
    EXPECT_THAT(after->text, Not(HasSubstr("eth0")));

    EXPECT_EQ(hotplug_->slots().used(), 0u);
    EXPECT_TRUE(hotplug_->devices().empty());
    EXPECT_EQ(qemuDevices(), before);
    EXPECT_EQ(openFdCount(), fds);
}

INSTANTIATE_TEST_SUITE_P(Machines, GuestHotplug,
                         ::testing::Values(MachineType::Pc, MachineType::Q35),
                         [](const auto& info) { return std::string(toString(info.param)); });

}  // namespace
}  // namespace corral::test

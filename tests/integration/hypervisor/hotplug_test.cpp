// Hotplug against a real, paused qemu: slot exhaustion gives the clear error, and a failing
// attach (missing image, wrong format) leaves nothing half-added and no fd leaked.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/integration/hypervisor/hotplug_fixture.hpp"

namespace corral::hypervisor {
namespace {

using boost::asio::any_io_executor;
using ::testing::HasSubstr;

using Hotplugging = test::HotplugFixture;

TEST_F(Hotplugging, Q35FillsRootPortsThenGivesTheClearError) {
    start(MachineType::Q35, 2);
    EXPECT_TRUE(hotplug_->canHotAdd(*findKind("disk")));
    EXPECT_TRUE(hotplug_->canHotAdd(*findKind("nic")));
    EXPECT_FALSE(hotplug_->canHotAdd(rootPortKind()));
    auto disk = attachDisk("data", image("data.img"));
    ASSERT_TRUE(disk) << disk.error().message;
    EXPECT_EQ(*disk, "corral-rp0:00.0");
    auto nic = attachNic("net1");
    ASSERT_TRUE(nic) << nic.error().message;
    EXPECT_EQ(*nic, "corral-rp1:00.0");
    auto before = state();

    auto third = attachNic("net2");
    ASSERT_FALSE(third);
    EXPECT_EQ(third.error().kind, Errc::NoFreeSlot);
    EXPECT_THAT(third.error().message,
                ::testing::HasSubstr("no free hotplug slot: 2 of 2 used; raise "
                                     "machine.hotplug_slots"));
    EXPECT_EQ(state(), before);

    auto reported = test::runAsync(io_, [&](any_io_executor) { return hotplug_->reconcile(); });
    ASSERT_TRUE(reported) << reported.error().message;
    const auto& pci = *reported;
    auto at = [&](const std::string& bus, const std::string& id) {
        return std::any_of(pci.begin(), pci.end(), [&](const OccupiedSlot& s) {
            return s.bus == bus && s.slot == 0 && s.deviceId == id;
        });
    };
    EXPECT_TRUE(at("corral-rp0", "data"));
    EXPECT_TRUE(at("corral-rp1", "net1"));
    EXPECT_EQ(hotplug_->slots().used(), 2u);
}

TEST_F(Hotplugging, PcFillsEveryFreeSlotOfPci0) {
    start(MachineType::Pc, 0);
    unsigned capacity = hotplug_->slots().capacity();
    EXPECT_EQ(capacity, 29u);  // 32 - host bridge - PIIX3 - virtio-serial
    auto start = std::chrono::steady_clock::now();
    for (unsigned i = 0; i < capacity; ++i) {
        auto nic = attachNic("n" + std::to_string(i));
        ASSERT_TRUE(nic) << i << ": " << nic.error().message;
    }
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    std::printf("[ figures ] pc: %u user-NIC attaches, %lld us each on average\n", capacity,
                static_cast<long long>(us / capacity));
    auto extra = attachNic("extra");
    ASSERT_FALSE(extra);
    EXPECT_THAT(extra.error().message,
                ::testing::HasSubstr("no free hotplug slot on pci.0: 29 of 29 used"));
}

TEST_F(Hotplugging, FailedAttachLeavesNothingBehind) {
    start(MachineType::Q35, 2);
    auto before = state();
    int fds = test::openFdCount();

    auto missing = attachDisk("data", "/nonexistent/disk.img");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().kind, Errc::OpenFailed);
    EXPECT_THAT(missing.error().message,
                ::testing::HasSubstr("cannot open /nonexistent/disk.img: No such file"));

    // Fails at the second blockdev-add, after the file node and the fdset were created.
    auto wrongFormat = attachDisk("data", image("raw.img"), {{"format", "qcow2"}});
    ASSERT_FALSE(wrongFormat);
    EXPECT_THAT(wrongFormat.error().message, ::testing::HasSubstr("qcow2"));

    auto badId = attachDisk("corral-x", image("x.img"));
    ASSERT_FALSE(badId);
    EXPECT_EQ(badId.error().kind, Errc::InvalidArgument);

    auto badMac = attachNic("net1", {{"mac", "01:00:5e:00:00:01"}});
    ASSERT_FALSE(badMac);
    EXPECT_EQ(badMac.error().kind, Errc::InvalidArgument);

    auto unknown = detach("nope");
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().kind, Errc::NoSuchDevice);
    auto bootTime = detach("corral-vserial");
    ASSERT_FALSE(bootTime);
    EXPECT_THAT(bootTime.error().message, ::testing::HasSubstr("boot-time devices"));

    EXPECT_EQ(state(), before);
    EXPECT_EQ(hotplug_->slots().used(), 0u);
    EXPECT_EQ(test::openFdCount(), fds);

    // The id and slot are usable again: the rollback really released them.
    auto retry = attachDisk("data", image("raw.img"));
    ASSERT_TRUE(retry) << retry.error().message;
    auto duplicate = attachDisk("data", image("raw2.img"));
    ASSERT_FALSE(duplicate);
    EXPECT_EQ(duplicate.error().kind, Errc::DeviceExists);
}

// An rng is a device on an rng-random object: attach adds both, a failing object-add leaves
// nothing, and recovery deletes an object of its naming that no device uses.
TEST_F(Hotplugging, RngAttachesOnItsObjectAndRecoveryDeletesAnOrphanOne) {
    start(MachineType::Q35, 2);
    EXPECT_TRUE(hotplug_->canHotAdd(*findKind("rng")));
    auto objects = [&] {
        auto reply = test::runAsync(io_, [&](any_io_executor) {
            return vm_->qmp->execute("qom-list",
                                     monitor::JsonObject().set("path", "/objects").take());
        });
        return reply ? monitor::toJsonString(*reply) : reply.error().message;
    };
    auto rng = attach(test::device("rng", "entropy"));
    ASSERT_TRUE(rng) << rng.error().message;
    EXPECT_EQ(*rng, "corral-rp0:00.0");
    EXPECT_THAT(objects(), HasSubstr(R"({"name":"entropy-rng","type":"child<rng-random>"})"));
    auto devices = hotplug_->devices();
    ASSERT_EQ(devices.size(), 1u);
    EXPECT_EQ(devices[0].backend, "/dev/urandom");

    auto before = objects();
    auto missing = attach(test::device("rng", "broken", {{"backend", "/nonexistent/rng"}}));
    ASSERT_FALSE(missing);
    EXPECT_THAT(missing.error().message, HasSubstr("/nonexistent/rng"));
    EXPECT_EQ(objects(), before);
    EXPECT_EQ(hotplug_->slots().used(), 1u);

    // An object-add whose device_add never came (a corrald killed in between).
    auto orphan = test::runAsync(io_, [&](any_io_executor) {
        return vm_->qmp->execute("object-add", monitor::JsonObject()
                                                   .set("qom-type", "rng-random")
                                                   .set("id", "half-rng")
                                                   .set("filename", "/dev/urandom")
                                                   .take());
    });
    ASSERT_TRUE(orphan) << orphan.error().message;
    auto recovered = test::runAsync(io_, [&](any_io_executor) { return hotplug_->recover(); });
    ASSERT_TRUE(recovered) << recovered.error().message;
    // The attach passed /dev/urandom as an fdset; QEMU closes a removed fdset's fd only while the
    // VM runs, and this qemu is paused, so recovery may also drop that set.
    EXPECT_THAT(recovered->removed, ::testing::Contains("object half-rng"));
    EXPECT_THAT(recovered->removed, ::testing::Each(::testing::AnyOf(
                                        "object half-rng", ::testing::StartsWith("fdset "))));
    EXPECT_EQ(objects(), before);
}

}  // namespace
}  // namespace corral::hypervisor

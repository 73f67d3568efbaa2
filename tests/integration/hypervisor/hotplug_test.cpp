// Hotplug against a real, paused qemu: slot exhaustion gives the clear error, and a failing
// attach (missing image, wrong format) leaves nothing half-added and no fd leaked.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "hypervisor/hotplug.hpp"
#include "tests/integration/hypervisor/run_async.hpp"
#include "tests/integration/hypervisor/test_vm.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::hypervisor {
namespace {

using boost::asio::any_io_executor;
using boost::asio::awaitable;
using monitor::Result;

InstanceSpec guestSpec(MachineType type, unsigned hotplugSlots) {
    InstanceSpec spec;
    spec.name = type == MachineType::Pc ? "hp-pc" : "hp-q35";
    spec.machine.type = type;
    spec.machine.accel = "tcg";
    spec.machine.memoryBytes = 256ull << 20;
    spec.machine.hotplugSlots = hotplugSlots;
    spec.boot = BootSpec{test::guestKernel(), test::guestInitrd(), "console=ttyS0 quiet"};
    return spec;
}

// What QEMU has: PCI devices and block nodes, as text, for before/after comparisons.
awaitable<std::string> snapshot(test::TestVm& vm) {
    std::string out;
    for (const char* command : {"query-pci", "query-named-block-nodes", "query-block"}) {
        auto reply = co_await vm.qmp->execute(command);
        out += reply ? monitor::toJsonString(*reply) : reply.error().message;
        out += "\n";
    }
    co_return out;
}

class Hotplugging : public ::testing::Test {
  protected:
    // Starts a paused VM of `type` and a Hotplug on it (reconciled with query-pci).
    void start(MachineType type, unsigned hotplugSlots) {
        vm_ = test::runAsync(io_, [&](any_io_executor ex) {
            return test::startTestVm(ex, guestSpec(type, hotplugSlots), dir_ / "run");
        });
        hotplug_ = std::make_unique<Hotplug>(vm_->qmp, vm_->plan, vm_->spec.name);
        auto reconciled =
            test::runAsync(io_, [&](any_io_executor) { return hotplug_->reconcile(); });
        ASSERT_TRUE(reconciled) << reconciled.error().message;
    }

    Result<std::string> attachDisk(std::string id, std::filesystem::path path,
                                   DiskOptions options = {}) {
        return test::runAsync(
            io_, [&](any_io_executor) { return hotplug_->attachDisk(id, path, options); });
    }

    Result<std::string> attachNic(std::string id) {
        return test::runAsync(
            io_, [&](any_io_executor) { return hotplug_->attachNic(id, NicOptions{}); });
    }

    std::string state() {
        return test::runAsync(io_, [&](any_io_executor) { return snapshot(*vm_); });
    }

    std::filesystem::path image(const std::string& name) {
        auto path = dir_ / name;
        std::ofstream(path).close();
        std::filesystem::resize_file(path, 8 << 20);
        return path;
    }

    void TearDown() override {
        hotplug_.reset();
        if (vm_) test::runAsync(io_, [&](any_io_executor) { return test::quitTestVm(*vm_); });
    }

    boost::asio::io_context io_;
    test::TempDir dir_;
    std::unique_ptr<test::TestVm> vm_;
    std::unique_ptr<Hotplug> hotplug_;
};

TEST_F(Hotplugging, Q35FillsRootPortsThenGivesTheClearError) {
    start(MachineType::Q35, 2);
    EXPECT_TRUE(hotplug_->canHotAddDisk());
    EXPECT_TRUE(hotplug_->canHotAddNic());
    auto disk = attachDisk("data", image("data.img"));
    ASSERT_TRUE(disk) << disk.error().message;
    EXPECT_EQ(*disk, "corral-rp0:00.0");
    auto nic = attachNic("net1");
    ASSERT_TRUE(nic) << nic.error().message;
    EXPECT_EQ(*nic, "corral-rp1:00.0");
    auto before = state();

    auto third = attachNic("net2");
    ASSERT_FALSE(third);
    EXPECT_EQ(third.error().kind, kNoFreeSlot);
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
    for (unsigned i = 0; i < capacity; ++i) {
        auto nic = attachNic("n" + std::to_string(i));
        ASSERT_TRUE(nic) << i << ": " << nic.error().message;
    }
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
    EXPECT_EQ(missing.error().kind, kOpenFailed);
    EXPECT_THAT(missing.error().message,
                ::testing::HasSubstr("cannot open /nonexistent/disk.img: No such file"));

    // Fails at the second blockdev-add, after the file node and the fdset were created.
    auto wrongFormat = attachDisk("data", image("raw.img"), {DiskFormat::Qcow2, false, {}});
    ASSERT_FALSE(wrongFormat);
    EXPECT_THAT(wrongFormat.error().message, ::testing::HasSubstr("qcow2"));

    auto badId = attachDisk("corral-x", image("x.img"));
    ASSERT_FALSE(badId);
    EXPECT_EQ(badId.error().kind, kInvalidArgument);

    EXPECT_EQ(state(), before);
    EXPECT_EQ(hotplug_->slots().used(), 0u);
    EXPECT_EQ(test::openFdCount(), fds);

    // The id and slot are usable again: the rollback really released them.
    auto retry = attachDisk("data", image("raw.img"));
    ASSERT_TRUE(retry) << retry.error().message;
    auto duplicate = attachDisk("data", image("raw2.img"));
    ASSERT_FALSE(duplicate);
    EXPECT_EQ(duplicate.error().kind, kDeviceExists);
}

}  // namespace
}  // namespace corral::hypervisor

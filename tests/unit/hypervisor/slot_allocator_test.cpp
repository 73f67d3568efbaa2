#include <gtest/gtest.h>

#include "hypervisor/device_options.hpp"
#include "hypervisor/slot_allocator.hpp"

namespace corral::hypervisor {
namespace {

InstanceSpec spec(MachineType type, unsigned disks, unsigned hotplugSlots) {
    InstanceSpec s;
    s.name = "vm";
    s.machine.type = type;
    s.machine.hotplugSlots = hotplugSlots;
    for (unsigned i = 0; i < disks; ++i)
        s.devices.push_back(makeDevice(*findKind("disk"), "d" + std::to_string(i), {}, s.name));
    return s;
}

TEST(SlotPlan, PlacesEveryDeviceExplicitlyAvoidingReservedSlots) {
    auto pc = planSlots(spec(MachineType::Pc, 2, 8));
    ASSERT_EQ(pc.devices.size(), 3u);  // agent + 2 disks; pc has no root ports
    EXPECT_EQ(pc.devices[0].slot, (PciSlot{"pci.0", 2}));
    EXPECT_EQ(pc.find("d1"), (PciSlot{"pci.0", 4}));
    EXPECT_TRUE(pc.hotplugPorts.empty());

    auto q35 = planSlots(spec(MachineType::Q35, 1, 3));
    EXPECT_EQ(q35.find("corral-vserial"), (PciSlot{"pcie.0", 1}));
    EXPECT_EQ(q35.hotplugPorts,
              (std::vector<std::string>{"corral-rp0", "corral-rp1", "corral-rp2"}));
    EXPECT_EQ(q35.find("corral-rp2"), (PciSlot{"pcie.0", 5}));
}

TEST(SlotPlan, TooManyDevicesIsAnError) {
    EXPECT_THROW(planSlots(spec(MachineType::Q35, 10, 24)), std::invalid_argument);
    EXPECT_NO_THROW(planSlots(spec(MachineType::Q35, 5, 24)));  // 1 + 5 + 24 = 30 slots
}

TEST(SlotPlan, FormatsAddresses) {
    EXPECT_EQ((PciSlot{"pci.0", 0x1e}).toString(), "pci.0:1e.0");
    EXPECT_EQ((PciSlot{"pci.0", 0x1e}).addr(), "0x1e");
}

TEST(SlotAllocator, Q35UsesFreeRootPortsUntilExhausted) {
    SlotAllocator allocator(planSlots(spec(MachineType::Q35, 0, 2)));
    EXPECT_EQ(allocator.capacity(), 2u);
    EXPECT_EQ(allocator.allocate("a"), (PciSlot{"corral-rp0", 0}));
    EXPECT_EQ(allocator.allocate("b"), (PciSlot{"corral-rp1", 0}));
    EXPECT_EQ(allocator.allocate("c"), std::nullopt);
    EXPECT_EQ(allocator.exhaustedMessage(),
              "no free hotplug slot: 2 of 2 used; raise machine.hotplug_slots");
    allocator.release("a");
    EXPECT_EQ(allocator.allocate("c"), (PciSlot{"corral-rp0", 0}));
    EXPECT_EQ(allocator.slotOf("c"), (PciSlot{"corral-rp0", 0}));
}

TEST(SlotAllocator, PcOffersFreeSlotsOfPci0) {
    SlotAllocator allocator(planSlots(spec(MachineType::Pc, 1, 8)));
    EXPECT_EQ(allocator.capacity(), 28u);  // 32 - host bridge - PIIX3 - agent - disk
    EXPECT_EQ(allocator.allocate("x"), (PciSlot{"pci.0", 4}));
    for (int i = 0; i < 27; ++i) ASSERT_TRUE(allocator.allocate("n" + std::to_string(i)));
    EXPECT_EQ(allocator.allocate("y"), std::nullopt);
    EXPECT_EQ(allocator.exhaustedMessage(),
              "no free hotplug slot on pci.0: 28 of 28 used; detach a device first");
}

TEST(SlotAllocator, ReconcileTakesQemusViewAndNeverHandsOutAnOccupiedSlot) {
    SlotAllocator allocator(planSlots(spec(MachineType::Pc, 0, 0)));
    allocator.allocate("gone");  // slot 3; QEMU no longer has it
    allocator.reconcile(
        {{"pci.0", 0, ""}, {"pci.0", 2, "corral-vserial"}, {"pci.0", 4, "hot1"}, {"pci.0", 3, ""}});
    EXPECT_EQ(allocator.slotOf("gone"), std::nullopt);
    EXPECT_EQ(allocator.slotOf("hot1"), (PciSlot{"pci.0", 4}));
    EXPECT_EQ(allocator.used(), 2u);  // slot 3 (foreign) and slot 4
    EXPECT_EQ(allocator.allocate("new"), (PciSlot{"pci.0", 5}));
}

}  // namespace
}  // namespace corral::hypervisor

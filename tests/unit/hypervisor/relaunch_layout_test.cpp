// relaunchLayout: what a reboot's qemu is made of (the definition of now plus the last qemu's
// hotplugged devices), and the argv built from it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "hypervisor/device_options.hpp"
#include "hypervisor/qemu_argv.hpp"
#include "hypervisor/relaunch_layout.hpp"

namespace corral::hypervisor {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

Device make(std::string_view kind, std::string id, Options options = {}) {
    const auto& row = *findKind(kind);
    EXPECT_TRUE(completeOptions(row, options).empty()) << id;
    return makeDevice(row, std::move(id), std::move(options), "vm1");
}

Device hotplugged(std::string_view kind, std::string id, PciSlot slot, Options options = {}) {
    auto device = make(kind, std::move(id), std::move(options));
    device.slot = std::move(slot);
    device.hotplugged = true;
    return device;
}

InstanceSpec q35(unsigned hotplugSlots) {
    InstanceSpec spec;
    spec.name = "vm1";
    spec.machine.type = MachineType::Q35;
    spec.machine.hotplugSlots = hotplugSlots;
    spec.devices.push_back(make("disk", "root", {{"path", "/d/root.img"}}));
    return spec;
}

std::vector<std::string> ids(const RelaunchLayout& layout) {
    std::vector<std::string> out;
    for (const auto& d : layout.devices) out.push_back(d.id + (d.hotplugged ? "+" : ""));
    return out;
}

TEST(RelaunchLayout, KeepsEveryHotpluggedDeviceInItsSlot) {
    auto plan = planSlots(q35(3));
    auto previous = plan.devices;
    previous.push_back(hotplugged("disk", "data0", {"corral-rp1", 0}, {{"path", "/d/data0.img"}}));
    previous.push_back(hotplugged("nic", "net1", {"corral-rp0", 0}, {{"mode", "user"}}));
    auto layout = relaunchLayout(plan, previous);
    EXPECT_THAT(ids(layout), ElementsAre("corral-vserial", "root", "corral-rp0", "corral-rp1",
                                         "corral-rp2", "data0+", "net1+"));
    EXPECT_EQ(layout.devices[5].slot, (PciSlot{"corral-rp1", 0}));
    EXPECT_EQ(layout.devices[6].slot, (PciSlot{"corral-rp0", 0}));
    EXPECT_EQ(layout.devices[6].text("mac"), previous.back().text("mac"));
    EXPECT_THAT(layout.notes, IsEmpty());

    // The argv: the hotplugged ones after the root ports, in their recorded slots, no bootindex.
    InstanceSpec spec = q35(3);
    auto argv = buildQemuArgv(spec, {plan.machine, layout.devices, plan.hotplugPorts},
                              RuntimePaths::forInstance("/run/corral", "vm1"));
    std::string joined;
    for (const auto& word : argv) joined += word + " ";
    // Kept hotplugged devices have no option ROM, as when they were hotplugged
    // (device_backend.hpp).
    EXPECT_THAT(joined, HasSubstr("id=data0,drive=data0-format,bus=corral-rp1,addr=0x0,romfile= "));
    EXPECT_THAT(joined, HasSubstr("id=net1,netdev=net1-net"));
    EXPECT_THAT(joined, HasSubstr("bus=corral-rp0,addr=0x0,romfile= "));
    EXPECT_THAT(joined, HasSubstr("bootindex=1 "));  // the boot-time disk keeps its ROM path
    EXPECT_LT(joined.find("corral-rp2,bus=pcie.0"), joined.find("id=data0"));
    EXPECT_THAT(joined, ::testing::Not(HasSubstr("-incoming")));
}

TEST(RelaunchLayout, WithNothingHotpluggedItIsThePlan) {
    auto plan = planSlots(q35(2));
    auto layout = relaunchLayout(plan, plan.devices);
    EXPECT_EQ(ids(layout), ids({plan.devices, {}}));
    EXPECT_THAT(layout.notes, IsEmpty());
}

TEST(RelaunchLayout, ADeviceTheDefinitionNowHasIsTheDefinitions) {
    auto spec = q35(2);
    spec.devices.push_back(make("disk", "data0", {{"path", "/d/data0.img"}}));
    auto plan = planSlots(spec);
    auto layout = relaunchLayout(
        plan, {hotplugged("disk", "data0", {"corral-rp0", 0}, {{"path", "/d/data0.img"}})});
    EXPECT_THAT(ids(layout),
                ElementsAre("corral-vserial", "root", "data0", "corral-rp0", "corral-rp1"));
    EXPECT_THAT(layout.notes, IsEmpty());
}

TEST(RelaunchLayout, ASlotTheChangedDefinitionTookIsReplacedOrTheDeviceIsLeftOutWithANote) {
    // pc: hotplug slots are the free ones of pci.0; a disk added to the definition took slot 4.
    InstanceSpec spec;
    spec.name = "vm1";
    spec.machine.type = MachineType::Pc;
    spec.devices.push_back(make("disk", "root", {{"path", "/d/root.img"}}));
    spec.devices.push_back(make("disk", "extra", {{"path", "/d/extra.img"}}));
    auto plan = planSlots(spec);
    ASSERT_EQ(plan.find("extra"), (PciSlot{"pci.0", 4}));
    auto layout =
        relaunchLayout(plan, {hotplugged("nic", "net1", {"pci.0", 4}, {{"mode", "user"}}),
                              hotplugged("nic", "net2", {"pci.0", 5}, {{"mode", "user"}})});
    ASSERT_EQ(layout.devices.size(), plan.devices.size() + 2);
    EXPECT_EQ(layout.devices[plan.devices.size()].id, "net1");
    EXPECT_EQ(layout.devices[plan.devices.size()].slot, (PciSlot{"pci.0", 6}));
    EXPECT_EQ(layout.devices.back().slot, (PciSlot{"pci.0", 5}));
    EXPECT_THAT(layout.notes, ElementsAre("nic net1 moved from pci.0:04.0 to pci.0:06.0"));

    // q35 with fewer hotplug ports than hotplugged devices now.
    auto small = planSlots(q35(1));
    auto full =
        relaunchLayout(small, {hotplugged("nic", "net1", {"corral-rp0", 0}, {{"mode", "user"}}),
                               hotplugged("nic", "net2", {"corral-rp1", 0}, {{"mode", "user"}})});
    EXPECT_EQ(ids(full).back(), "net1+");
    EXPECT_THAT(full.notes, ElementsAre("nic net2 is not kept: no free hotplug slot: 1 of 1 used; "
                                        "raise machine.hotplug_slots"));
}

TEST(RelaunchLayout, AHotpluggedScsiDiskNeedsTheControllerAndAFreeScsiId) {
    auto spec = q35(1);
    spec.devices.push_back(make("disk", "s0", {{"path", "/d/s0.img"}, {"bus", "scsi"}}));
    auto plan = planSlots(spec);
    auto layout = relaunchLayout(plan, {hotplugged("disk", "s1", {std::string(kScsiBus), 1},
                                                   {{"path", "/d/s1.img"}, {"bus", "scsi"}})});
    EXPECT_EQ(ids(layout).back(), "s1+");
    EXPECT_EQ(layout.devices.back().slot, (PciSlot{std::string(kScsiBus), 1}));

    auto clash = relaunchLayout(plan, {hotplugged("disk", "s1", {std::string(kScsiBus), 0},
                                                  {{"path", "/d/s1.img"}, {"bus", "scsi"}})});
    EXPECT_EQ(clash.devices.back().slot, (PciSlot{std::string(kScsiBus), 1}));
    EXPECT_THAT(clash.notes, ElementsAre("disk s1 moved to scsi-id 1"));

    auto none =
        relaunchLayout(planSlots(q35(1)), {hotplugged("disk", "s1", {std::string(kScsiBus), 1},
                                                      {{"path", "/d/s1.img"}, {"bus", "scsi"}})});
    EXPECT_THAT(none.notes, ElementsAre("disk s1 is not kept: the definition no longer has a "
                                        "SCSI controller"));
}

}  // namespace
}  // namespace corral::hypervisor

// What machined is told about a qemu: the UUID of its argv and the ifindices of its taps.
#include <gtest/gtest.h>

#include "hypervisor/device.hpp"
#include "supervisor/machined.hpp"

namespace corral::supervisor {
namespace {

hypervisor::Device nic(std::string id, std::string backend) {
    hypervisor::Device device;
    device.id = std::move(id);
    device.kind = hypervisor::findKind("nic");
    device.backend = std::move(backend);
    return device;
}

TEST(IdentifyMachine, TakesTheUuidOfTheArgvAndTheTapsThatExist) {
    auto disk = nic("root", "lo");
    disk.kind = hypervisor::findKind("disk");
    auto machine = identifyMachine(
        "web1", 4242, {"qemu-system-x86_64", "-uuid", "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"},
        {nic("user0", ""), nic("gone", "corral-no-such-tap"), nic("lo", "lo"), disk});
    EXPECT_EQ(machine.name, "web1");
    EXPECT_EQ(machine.leader, 4242);
    EXPECT_EQ(hypervisor::formatUuid(machine.uuid), "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d");
    // Only the NIC whose interface exists ("lo" is 1 in every network namespace).
    EXPECT_EQ(machine.ifindices, std::vector<int>{1});
}

TEST(IdentifyMachine, AQemuWithoutUuidGetsTheDerivedOne) {
    auto machine = identifyMachine("web1", 1, {"qemu-system-x86_64", "-name", "guest=web1"}, {});
    EXPECT_EQ(hypervisor::formatUuid(machine.uuid), hypervisor::derivedUuid("web1"));
    EXPECT_TRUE(machine.ifindices.empty());
    // A -uuid at the very end, without a value, is no UUID either.
    EXPECT_EQ(identifyMachine("web1", 1, {"qemu", "-uuid"}, {}).uuid, machine.uuid);
}

}  // namespace
}  // namespace corral::supervisor

// A hotplugged device's unique values (a NIC's MAC) against the devices the VM already has.
#include "supervisor/device_clash.hpp"

#include <gtest/gtest.h>

#include "hypervisor/instance_spec.hpp"

namespace corral::supervisor::test {
namespace {

hypervisor::Device nic(std::string id, std::string mac = "") {
    hypervisor::Device d;
    d.id = std::move(id);
    d.kind = hypervisor::findKind("nic");
    d.options.emplace("mode", std::string("user"));
    if (!mac.empty()) d.options.emplace("mac", mac);
    return d;
}

hypervisor::Device disk(std::string id) {
    hypervisor::Device d;
    d.id = std::move(id);
    d.kind = hypervisor::findKind("disk");
    d.options.emplace("path", std::string("/var/lib/corral/a.img"));
    return d;
}

TEST(DeviceClash, SameMacAsABootNicIsRefusedNamingIt) {
    std::vector<hypervisor::Device> current{disk("disk0"), nic("net0", "52:54:00:12:34:56")};
    auto clash = uniqueValueClash(nic("net1", "52:54:00:12:34:56"), current, "web1");
    ASSERT_TRUE(clash);
    EXPECT_EQ(clash->kind, ErrorKind::InvalidArgument);
    EXPECT_EQ(clash->message, "MAC address 52:54:00:12:34:56 is already used by nic net0 of web1");
}

TEST(DeviceClash, ADerivedMacThatCollidesIsRefused) {
    auto taken = hypervisor::derivedMac("web1", "net1");
    std::vector<hypervisor::Device> current{nic("net0", taken)};
    auto clash = uniqueValueClash(nic("net1"), current, "web1");
    ASSERT_TRUE(clash);
    EXPECT_NE(clash->message.find("net0"), std::string::npos) << clash->message;
}

TEST(DeviceClash, DifferentMacsAndOtherKindsPass) {
    std::vector<hypervisor::Device> current{nic("net0", "52:54:00:12:34:56"), disk("disk0"),
                                            nic("old")};  // a record without options
    EXPECT_FALSE(uniqueValueClash(nic("net1", "52:54:00:12:34:58"), current, "web1"));
    EXPECT_FALSE(uniqueValueClash(nic("net2"), current, "web1"));
    EXPECT_FALSE(uniqueValueClash(disk("disk1"), current, "web1"));
}

}  // namespace
}  // namespace corral::supervisor::test

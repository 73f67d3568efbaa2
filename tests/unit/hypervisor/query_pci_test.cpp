// flattenQueryPci on QEMU's real reply shape: bus-0 devices on the root bus, a bridge's devices
// on the bridge's qdev id, functions of one slot reported per function.
#include <gtest/gtest.h>

#include "hypervisor/hotplug.hpp"

namespace corral::hypervisor {
namespace {

TEST(QueryPci, FlattensRootBusAndBridges) {
    auto reply = monitor::parseJson(R"([{"bus": 0, "devices": [
        {"bus": 0, "slot": 0, "function": 0, "qdev_id": ""},
        {"bus": 0, "slot": 2, "function": 0, "qdev_id": "corral-rp0",
         "pci_bridge": {"bus": {"number": 1}, "devices": [
             {"bus": 1, "slot": 0, "function": 0, "qdev_id": "data"}]}},
        {"bus": 0, "slot": 31, "function": 0, "qdev_id": ""},
        {"bus": 0, "slot": 31, "function": 2, "qdev_id": ""}]}])");
    ASSERT_TRUE(reply);
    auto slots = flattenQueryPci(*reply, "pcie.0");
    ASSERT_EQ(slots.size(), 5u);
    EXPECT_EQ(slots[1].bus, "pcie.0");
    EXPECT_EQ(slots[1].deviceId, "corral-rp0");
    EXPECT_EQ(slots[2].bus, "corral-rp0");
    EXPECT_EQ(slots[2].slot, 0u);
    EXPECT_EQ(slots[2].deviceId, "data");
    EXPECT_EQ(slots[4].slot, 31u);
}

TEST(QueryPci, IgnoresMalformedEntries) {
    for (const char* text : {"{}", "[]", "[1]", R"([{"bus": 0, "devices": [{"slot": "x"}, 3]}])",
                             R"([{"bus": 1, "devices": [{"slot": 4}]}])"}) {
        auto reply = monitor::parseJson(text);
        ASSERT_TRUE(reply) << text;
        EXPECT_TRUE(flattenQueryPci(*reply, "pci.0").empty()) << text;
    }
}

}  // namespace
}  // namespace corral::hypervisor

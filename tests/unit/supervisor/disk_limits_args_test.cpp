// SetDiskLimits' arguments without a bus: each key a limit, once, an unsigned number.
#include <gtest/gtest.h>

#include "supervisor/dbus_args.hpp"
#include "supervisor/disk_args.hpp"

namespace corral::supervisor {
namespace {

LimitEntry entry(std::string key, std::string type, std::uint64_t value, bool negative = false) {
    LimitEntry e;
    e.key = std::move(key);
    e.type = std::move(type);
    e.value = value;
    e.negative = negative;
    return e;
}

std::string refusal(const std::vector<LimitEntry>& entries) {
    auto result = validateSetDiskLimits("data", entries);
    EXPECT_FALSE(result.ok());
    if (result.ok()) return "";
    EXPECT_EQ(result.error().kind, ErrorKind::InvalidArgument);
    return result.error().message;
}

TEST(SetDiskLimitsArguments, LimitsByKeyZeroRemoves) {
    auto ok =
        validateSetDiskLimits("data", {entry("bps_wr", "t", 1048576), entry("iops_rd", "u", 0)});
    ASSERT_TRUE(ok.ok()) << ok.error().message;
    EXPECT_EQ(ok.value(),
              (std::map<std::string, std::uint64_t>{{"bps_wr", 1048576}, {"iops_rd", 0}}));
}

TEST(SetDiskLimitsArguments, EveryBadEntryIsNamed) {
    EXPECT_NE(refusal({}).find("SetDiskLimits: no limits given; the keys are bps_total, bps_rd"),
              std::string::npos);
    EXPECT_NE(refusal({entry("bps_write", "t", 1)}).find("unknown limit \"bps_write\""),
              std::string::npos);
    EXPECT_NE(refusal({entry("bps_wr", "s", 0)}).find("\"bps_wr\" wants a number (t), got type s"),
              std::string::npos);
    EXPECT_NE(refusal({entry("bps_wr", "x", 0, true)}).find("\"bps_wr\" is negative"),
              std::string::npos);
    EXPECT_NE(refusal({entry("bps_wr", "t", 1'000'000'000'000'001ull)})
                  .find("is more than QEMU's largest (1000000000000000)"),
              std::string::npos);
    EXPECT_NE(refusal({entry("bps_wr", "t", 1), entry("bps_wr", "t", 2)}).find("given twice"),
              std::string::npos);
    EXPECT_NE(refusal({entry("throttle_group", "s", 0)}).find("throttle_group is chosen in the"),
              std::string::npos);
    auto badId = validateSetDiskLimits("../x", {entry("bps_wr", "t", 1)});
    ASSERT_FALSE(badId.ok());
    EXPECT_NE(badId.error().message.find("Bad device id"), std::string::npos);
}

// AttachDevice("disk") takes the limits as strings, with the rules of the TOML table.
TEST(SetDiskLimitsArguments, AttachDeviceTakesTheSameLimits) {
    auto text = [](std::string key, std::string value) {
        OptionEntry e;
        e.key = std::move(key);
        e.type = "s";
        e.text = std::move(value);
        return e;
    };
    auto ok = validateAttachDevice("disk", "d1", {text("path", "/d.img"), text("bps_wr", "1M")});
    ASSERT_TRUE(ok.ok()) << ok.error().message;
    EXPECT_EQ(ok.value().text("bps_wr"), "1048576");
    auto burst = validateAttachDevice(
        "disk", "d1", {text("path", "/d.img"), text("bps_wr", "1M"), text("bps_wr_max", "1000")});
    ASSERT_FALSE(burst.ok());
    EXPECT_NE(burst.error().message.find("bps_wr_max (1000) is below bps_wr (1048576)"),
              std::string::npos)
        << burst.error().message;
    auto negative =
        validateAttachDevice("disk", "d1", {text("path", "/d.img"), text("iops_rd", "-1")});
    ASSERT_FALSE(negative.ok());
    EXPECT_NE(negative.error().message.find("iops_rd"), std::string::npos)
        << negative.error().message;
}

}  // namespace
}  // namespace corral::supervisor

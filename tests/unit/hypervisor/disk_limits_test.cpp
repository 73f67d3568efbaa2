// Disk I/O limits: the [[disk]] keys and their errors at file:line:col, throttle groups, and the
// block_set_io_throttle arguments built from a disk's record.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "hypervisor/disk_limits.hpp"
#include "hypervisor/instance_spec.hpp"
#include "monitor/json.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::hypervisor {
namespace {

using ::testing::ElementsAre;

class DiskLimits : public ::testing::Test {
  protected:
    DiskLimits() {
        std::ofstream(dir_ / "a.img") << "x";
        std::ofstream(dir_ / "vmlinuz") << "x";
    }
    // A definition with a kernel and the given [[disk]] tables, each on path a.img.
    std::string definition(const std::vector<std::string>& disks) const {
        std::string text = "[boot]\nkernel = \"" + (dir_ / "vmlinuz").string() + "\"\n";
        for (const auto& keys : disks)
            text += "[[disk]]\npath = \"" + (dir_ / "a.img").string() + "\"\n" + keys;
        return text;
    }
    std::vector<std::string> errors(const std::vector<std::string>& disks) {
        auto result = parseInstanceSpec(definition(disks), "vm.toml");
        std::vector<std::string> out;
        for (const auto& d : result.diagnostics) out.push_back(d.format());
        return out;
    }
    LoadResult load(const std::vector<std::string>& disks) {
        return parseInstanceSpec(definition(disks), "vm.toml");
    }
    test::TempDir dir_;
};

TEST_F(DiskLimits, IntegersAndUnitsBecomeTheirDecimalValue) {
    auto result = load({"bps_wr = \"1M\"\niops_rd = 500\nbps_wr_max = 2097152\n"});
    ASSERT_TRUE(result.ok()) << result.diagnostics.front().format();
    const auto& disk = result.spec->devices.front();
    EXPECT_EQ(disk.text("bps_wr"), "1048576");
    EXPECT_EQ(disk.text("iops_rd"), "500");
    EXPECT_EQ(limitsOf(disk), (std::map<std::string, std::uint64_t, std::less<>>{
                                  {"bps_wr", 1048576}, {"bps_wr_max", 2097152}, {"iops_rd", 500}}));
    EXPECT_EQ(throttleGroupOf(disk), "corral-disk-disk0");
}

TEST_F(DiskLimits, BadValuesAndRulesAreNamedWhereTheyAre) {
    EXPECT_THAT(errors({"bps_wr = -5\n"}),
                ElementsAre("vm.toml:5:10: error: bps_wr: expected a rate in bytes/s above 0, "
                            "e.g. 1048576 or \"1M\", got \"-5\""));
    EXPECT_THAT(errors({"iops_rd = 0\n"}),
                ElementsAre("vm.toml:5:11: error: iops_rd: expected a rate in operations/s above "
                            "0, e.g. 500, got \"0\""));
    EXPECT_THAT(errors({"bps_rd = \"fast\"\n"}),
                ElementsAre("vm.toml:5:10: error: bps_rd: expected a rate in bytes/s above 0, "
                            "e.g. 1048576 or \"1M\", got \"fast\""));
    EXPECT_THAT(errors({"bps_rd = true\n"}),
                ElementsAre("vm.toml:5:10: error: bps_rd: expected an integer or a string, got a "
                            "boolean"));
    EXPECT_THAT(errors({"bps_wr = 2000\nbps_wr_max = 1000\n"}),
                ElementsAre("vm.toml:6:14: error: bps_wr_max: bps_wr_max (1000) is below bps_wr "
                            "(2000); a burst is at least the rate"));
    EXPECT_THAT(errors({"iops_total_max = 100\n"}),
                ElementsAre("vm.toml:5:18: error: iops_total_max: iops_total_max is a burst "
                            "above iops_total, which is not set"));
    EXPECT_THAT(errors({"bps_total = 100\nbps_rd = 50\n"}),
                ElementsAre("vm.toml:5:13: error: bps_total: bps_total and bps_rd exclude each "
                            "other (a total limit, or read and write limits)"));
    EXPECT_THAT(errors({"bps_wrr = 100\n"}),
                ElementsAre(::testing::StartsWith(
                    "vm.toml:5:1: error: unknown key \"bps_wrr\" in [[disk]]; did you mean")));
    EXPECT_THAT(errors({"throttle_group = \"corral-x\"\n"}),
                ElementsAre(::testing::StartsWith("vm.toml:5:18: error: throttle_group: ")));
}

TEST_F(DiskLimits, AGroupHasOneSetOfLimits) {
    auto shared = load({"id = \"a\"\nthrottle_group = \"g\"\nbps_wr = \"1M\"\n",
                        "id = \"b\"\nthrottle_group = \"g\"\n"});
    ASSERT_TRUE(shared.ok()) << shared.diagnostics.front().format();
    EXPECT_EQ(shared.spec->devices[1].text("bps_wr"), "1048576") << "b takes the group's limits";
    EXPECT_EQ(throttleGroupOf(shared.spec->devices[1]), "g");
    EXPECT_THAT(errors({"id = \"a\"\nthrottle_group = \"g\"\nbps_wr = \"1M\"\n",
                        "id = \"b\"\nthrottle_group = \"g\"\nbps_wr = \"2M\"\n"}),
                ElementsAre("vm.toml:11:18: error: throttle_group: disk b gives other limits than "
                            "disk a (line 6), which shares throttle group \"g\"; give the limits "
                            "on one of them, or the same on each"));
}

TEST_F(DiskLimits, ThrottleArgumentsCarryEveryRateAndTheGroup) {
    auto result = load({"id = \"a\"\nbps_wr = \"1M\"\nbps_wr_max = \"2M\"\n", "id = \"b\"\n",
                        "id = \"c\"\nbus = \"scsi\"\niops_rd = 100\n"});
    ASSERT_TRUE(result.ok()) << result.diagnostics.front().format();
    // A SCSI (or SATA) disk's BlockBackend is its own device's.
    EXPECT_EQ(monitor::toJsonString(throttleArgs(result.spec->devices[2])),
              R"({"id":"c","bps":0,"bps_rd":0,"bps_wr":0,"iops":0,"iops_rd":100,"iops_wr":0,)"
              R"("group":"corral-disk-c"})");
    EXPECT_EQ(
        monitor::toJsonString(throttleArgs(result.spec->devices[0])),
        R"({"id":"/machine/peripheral/a/virtio-backend","bps":0,"bps_rd":0,"bps_wr":1048576,"iops":0,"iops_rd":0,)"
        R"("iops_wr":0,"bps_wr_max":2097152,"group":"corral-disk-a"})");
    EXPECT_FALSE(hasLimits(result.spec->devices[1]));
    EXPECT_EQ(monitor::toJsonString(throttleArgs(result.spec->devices[1])),
              R"({"id":"/machine/peripheral/b/virtio-backend","bps":0,"bps_rd":0,"bps_wr":0,)"
              R"("iops":0,"iops_rd":0,"iops_wr":0})");
}

}  // namespace
}  // namespace corral::hypervisor

// The parsers of kernel files and QMP replies behind VmSample, fed contents captured from a
// Debian 12 host (cgroup v2 under systemd, procfs) and from QEMU 7.2.
#include <gtest/gtest.h>

#include "supervisor/qmp_link.hpp"
#include "supervisor/stats.hpp"

namespace corral::supervisor {
namespace {

constexpr const char* kCpuStat =
    "usage_usec 8765432\nuser_usec 6000000\nsystem_usec 2765432\ncore_sched.force_idle_usec 0\n"
    "nr_periods 0\nnr_throttled 0\nthrottled_usec 0\nnr_bursts 0\nburst_usec 0\n";

TEST(StatsParse, CpuStatGivesUsageUsec) {
    EXPECT_EQ(parseCpuStat(kCpuStat), 8765432u);
    EXPECT_EQ(parseCpuStat("user_usec 5\n"), std::nullopt);
    EXPECT_EQ(parseCpuStat("usage_usec x\n"), std::nullopt);
}

TEST(StatsParse, NumberFileIsOneDecimalLine) {
    EXPECT_EQ(parseNumber("1073741824\n"), 1073741824u);
    EXPECT_EQ(parseNumber("max\n"), std::nullopt);
    EXPECT_EQ(parseNumber("12abc\n"), std::nullopt);
    EXPECT_EQ(parseNumber(""), std::nullopt);
}

TEST(StatsParse, PressureTakesTheSomeTotal) {
    constexpr const char* kIo =
        "some avg10=0.00 avg60=0.12 avg300=0.05 total=4521987\n"
        "full avg10=0.00 avg60=0.10 avg300=0.04 total=4011222\n";
    EXPECT_EQ(parsePressureSome(kIo), 4521987u);
    EXPECT_EQ(parsePressureSome("full avg10=0.00 avg60=0.00 avg300=0.00 total=9\n"), std::nullopt);
}

// A host in systemd's hybrid mode: the v2 hierarchy has no controllers, memory is cgroup v1.
TEST(StatsParse, V1CgroupOfAController) {
    const char* hybrid =
        "9:name=systemd:/machine.slice/corral-web1.scope\n4:memory:/machine.slice/"
        "corral-web1.scope\n"
        "2:cpu,cpuacct:/machine.slice\n0::/machine.slice/corral-web1.scope\n";
    EXPECT_EQ(parseV1Cgroup(hybrid, "memory"), "/machine.slice/corral-web1.scope");
    EXPECT_EQ(parseV1Cgroup(hybrid, "cpuacct"), "/machine.slice");
    EXPECT_EQ(parseV1Cgroup(hybrid, "cpu"), "/machine.slice");
    EXPECT_EQ(parseV1Cgroup(hybrid, "mem"), std::nullopt);
    EXPECT_EQ(parseV1Cgroup("0::/a.scope\n", "memory"), std::nullopt);
    EXPECT_EQ(parseV1Cgroup(hybrid, "name=systemd"), "/machine.slice/corral-web1.scope");
}

TEST(StatsParse, UnifiedCgroupLineAndOwnScope) {
    auto path = parseUnifiedCgroup("0::/machine.slice/corral-web1.scope\n");
    ASSERT_TRUE(path);
    EXPECT_EQ(*path, "/machine.slice/corral-web1.scope");
    EXPECT_TRUE(isOwnScope(*path, "web1"));
    EXPECT_FALSE(isOwnScope(*path, "web"));
    EXPECT_FALSE(isOwnScope("/system.slice/corrald.service", "web1"));
    EXPECT_FALSE(isOwnScope("/", "web1"));
    // Hybrid hierarchy: v1 lines first, the unified line last.
    auto hybrid = parseUnifiedCgroup("4:memory:/x\n1:cpu:/\n0::/\n");
    ASSERT_TRUE(hybrid);
    EXPECT_FALSE(isOwnScope(*hybrid, "web1"));
    EXPECT_EQ(parseUnifiedCgroup("4:memory:/x\n"), std::nullopt);
}

TEST(StatsParse, ProcStatAddsUtimeAndStime) {
    // A command name with spaces and parentheses must not shift the fields.
    constexpr const char* kStat =
        "4242 (qemu-system-x86 (x) a) S 1 4242 4242 0 -1 4194624 5000 0 0 0 250 50 0 0 20 0 5 "
        "0 1250551 3133440 408 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";
    EXPECT_EQ(parseProcStatCpu(kStat, 100), 3'000'000u);  // 300 ticks at 100 Hz
    EXPECT_EQ(parseProcStatCpu("4242 (qemu) S 1 2 3\n", 100), std::nullopt);
    EXPECT_EQ(parseProcStatCpu(kStat, 0), std::nullopt);
}

TEST(StatsParse, StatusRssInBytes) {
    EXPECT_EQ(parseStatusRss("Name:\tqemu\nVmPeak:\t  9000 kB\nVmRSS:\t    2212 kB\n"),
              2212u * 1024);
    EXPECT_EQ(parseStatusRss("Name:\tkthreadd\n"), std::nullopt);
}

TEST(StatsParse, DeviceIdOfQdevPath) {
    EXPECT_EQ(deviceIdOfQdev("/machine/peripheral/disk0/virtio-backend"), "disk0");
    EXPECT_EQ(deviceIdOfQdev("/machine/peripheral/data"), "data");
    EXPECT_EQ(deviceIdOfQdev("/machine/unattached/device[3]"), "");
}

TEST(StatsParse, BlockStatsOfQemu) {
    constexpr const char* kReply =
        R"([{"device":"","node-name":"disk0-fmt","qdev":"/machine/peripheral/disk0/virtio-backend",)"
        R"("stats":{"rd_bytes":1048576,"wr_bytes":4096,"rd_operations":256,"wr_operations":1,)"
        R"("rd_total_time_ns":5000000,"wr_total_time_ns":200000,"flush_operations":0}},)"
        R"({"device":"","node-name":"#block123","stats":{"rd_bytes":1}},)"
        R"({"device":"","stats":{"rd_bytes":7}}])";
    auto disks = parseBlockStats(kReply);
    ASSERT_TRUE(disks) << disks.error().message;
    ASSERT_EQ(disks.value().size(), 2u);
    const auto& d = disks.value()[0];
    EXPECT_EQ(d.device, "disk0");
    EXPECT_EQ(d.readBytes, 1048576u);
    EXPECT_EQ(d.writtenBytes, 4096u);
    EXPECT_EQ(d.readOps, 256u);
    EXPECT_EQ(d.writeOps, 1u);
    EXPECT_EQ(d.readTimeNs, 5000000u);
    EXPECT_EQ(d.writeTimeNs, 200000u);
    EXPECT_EQ(disks.value()[1].device, "#block123");
    EXPECT_FALSE(parseBlockStats("{}"));
    EXPECT_FALSE(parseBlockStats("not json"));
}

TEST(StatsParse, VcpuThreadsOfQueryCpusFast) {
    constexpr const char* kReply =
        R"([{"thread-id":4301,"props":{"core-id":0,"thread-id":0,"socket-id":0},"qom-path":)"
        R"("/machine/unattached/device[0]","cpu-index":0,"target":"x86_64"},)"
        R"({"thread-id":4302,"cpu-index":1,"target":"x86_64"},{"cpu-index":2}])";
    auto threads = parseVcpuThreads(kReply);
    ASSERT_TRUE(threads);
    ASSERT_EQ(threads.value().size(), 2u);
    EXPECT_EQ(threads.value()[0].index, 0u);
    EXPECT_EQ(threads.value()[0].threadId, 4301);
    EXPECT_EQ(threads.value()[1].index, 1u);
    EXPECT_EQ(threads.value()[1].threadId, 4302);
}

TEST(StatsParse, NetDevLineOfOneInterface) {
    constexpr const char* kNetDev =
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
        "drop fifo colls carrier compressed\n"
        "    lo: 73805999   17060    0    0    0     0          0         0 73805999   17060    0"
        "    0    0     0       0          0\n"
        "tap-net-lan:    1190      13    0    2    0     0          0         0     1514      "
        "17    0    4    0     0       0          0\n";
    auto tap = parseNetDev(kNetDev, "tap-net-lan");
    ASSERT_TRUE(tap);
    EXPECT_EQ(tap->rxBytes, 1190u);
    EXPECT_EQ(tap->rxPackets, 13u);
    EXPECT_EQ(tap->rxDropped, 2u);
    EXPECT_EQ(tap->txBytes, 1514u);
    EXPECT_EQ(tap->txPackets, 17u);
    EXPECT_EQ(tap->txDropped, 4u);
    EXPECT_EQ(parseNetDev(kNetDev, "tap-net"), std::nullopt) << "a prefix is not the name";
    EXPECT_EQ(parseNetDev(kNetDev, "eth0"), std::nullopt);
    EXPECT_EQ(parseNetDev("  x0: 1 2 3\n", "x0"), std::nullopt);
}

}  // namespace
}  // namespace corral::supervisor

// corralctl top's arithmetic and table, from two samples.
#include "supervisor/ctl_top.hpp"

#include <gtest/gtest.h>

namespace corral::supervisor::ctl {
namespace {

TopSample at(std::uint64_t usec, std::uint64_t cpu, std::uint64_t disk, std::uint64_t net) {
    return TopSample{"web1", "running", usec, cpu, 256u << 20, disk, disk * 2, net, net * 3};
}

TopSample stopped(std::string name) {
    TopSample s;
    s.name = std::move(name);
    s.state = "stopped";
    return s;
}

TEST(CtlTop, RatesAreDeltasOverTheSamplesOwnInterval) {
    auto row = topRow(at(1'000'000, 0, 0, 0), at(3'000'000, 1'000'000, 2048, 1000));
    EXPECT_DOUBLE_EQ(row.cpuPercent, 50.0);
    EXPECT_DOUBLE_EQ(row.diskReadRate, 1024.0);
    EXPECT_DOUBLE_EQ(row.diskWriteRate, 2048.0);
    EXPECT_DOUBLE_EQ(row.netRxRate, 500.0);
    EXPECT_DOUBLE_EQ(row.netTxRate, 1500.0);
    EXPECT_EQ(row.memoryBytes, 256u << 20);
}

TEST(CtlTop, NoRatesWithoutAnEarlierSampleOrAfterARestart) {
    EXPECT_LT(topRow(TopSample{}, at(3'000'000, 5, 5, 5)).cpuPercent, 0);
    EXPECT_LT(topRow(at(1'000'000, 900, 0, 0), at(2'000'000, 5, 0, 0)).cpuPercent, 0);
    EXPECT_LT(topRow(at(2'000'000, 0, 0, 0), at(2'000'000, 5, 0, 0)).cpuPercent, 0);
}

TEST(CtlTop, TableShowsUnknownRatesAsDashes) {
    auto table = topTable({topRow(TopSample{}, stopped("db")),
                           topRow(at(1'000'000, 0, 0, 0), at(2'000'000, 250'000, 1 << 20, 0))});
    EXPECT_NE(table.find("INSTANCE"), std::string::npos);
    EXPECT_NE(table.find("db       stopped"), std::string::npos) << table;
    EXPECT_NE(table.find("25.0"), std::string::npos) << table;
    EXPECT_NE(table.find("1.0M/s"), std::string::npos) << table;
    EXPECT_NE(table.find("256.0M"), std::string::npos) << table;
    auto json = topJson({topRow(TopSample{}, stopped("db"))});
    EXPECT_EQ(json,
              "{\"instances\":[{\"name\":\"db\",\"state\":\"stopped\",\"cpu_percent\":null,"
              "\"memory_bytes\":0,\"disk_read_bytes_per_second\":null,"
              "\"disk_written_bytes_per_second\":null,\"net_rx_bytes_per_second\":null,"
              "\"net_tx_bytes_per_second\":null}]}");
}

}  // namespace
}  // namespace corral::supervisor::ctl

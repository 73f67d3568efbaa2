// corralctl top: a live table of every instance's resource use, from the
// org.corral1.Instance.Stats properties. Rates come from two samples and the time between them
// (their SampledAt), so they are right however late a sample was taken.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "supervisor/ctl_verbs.hpp"

namespace corral::supervisor::ctl {

// The totals of one instance at one moment.
struct TopSample {
    std::string name, state;
    std::uint64_t sampledAtUsec = 0;
    std::uint64_t cpuUsec = 0;
    std::uint64_t memoryBytes = 0;
    std::uint64_t diskReadBytes = 0, diskWrittenBytes = 0;
    std::uint64_t netRxBytes = 0, netTxBytes = 0;
};

// One line of the table; a rate is negative when there is nothing to compare with.
struct TopRow {
    std::string name, state;
    double cpuPercent = -1;  // of one host CPU: a VM busy on two vCPUs shows 200
    std::uint64_t memoryBytes = 0;
    double diskReadRate = -1, diskWriteRate = -1, netRxRate = -1, netTxRate = -1;  // bytes/s
};

// `before` may be empty, or from another qemu (counters went down): no rates then.
TopRow topRow(const TopSample& before, const TopSample& now);
// The table with its header, rows in the order given; sizes like "12.5M", rates per second.
std::string topTable(const std::vector<TopRow>& rows);
// {"instances":[{...}]} with the same figures, rates null when unknown.
std::string topJson(const std::vector<TopRow>& rows);

// The verb.
int top(const Args& args);

}  // namespace corral::supervisor::ctl

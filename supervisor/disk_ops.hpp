// The disk operations that run outside one method: the I/O limits a new qemu gets from the
// device records (at start and on a migration's destination, before the vCPUs run) and the
// rule for a hotplugged disk that joins a throttle group (disk_ops.cpp).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hypervisor/device.hpp"
#include "supervisor/op_error.hpp"
#include "supervisor/qmp_link.hpp"

namespace corral::supervisor {

// block_set_io_throttle for each disk of `devices` that has limits (with `everyDisk`, for the
// others too: all rates 0, no throttling); nullopt, or the first error.
boost::asio::awaitable<std::optional<std::string>> applyDiskLimits(
    std::shared_ptr<QmpLink> link, std::vector<hypervisor::Device> devices, bool everyDisk = false);

// A disk to be hotplugged into throttle group G, which disks of `devices` are in: it takes
// their limits when it gives none; limits other than theirs are refused (one group, one budget).
std::optional<OpError> joinThrottleGroup(hypervisor::Device& device,
                                         const std::vector<hypervisor::Device>& devices,
                                         const std::string& name);

}  // namespace corral::supervisor

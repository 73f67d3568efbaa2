// The QMP side of disk_limits.hpp, apart from the pure rules (which the fuzzed loader links).
#include "hypervisor/disk_limits.hpp"

namespace corral::hypervisor {

using monitor::awaitable;
using monitor::JsonObject;
using monitor::Result;

namespace {

// The device whose BlockBackend is throttled: for virtio-blk-pci the virtio device inside the
// PCI proxy (QEMU answers "Device does not have a block device backend" for the proxy's id).
std::string throttleTarget(const Device& disk) {
    if (disk.driver().starts_with("virtio-"))
        return "/machine/peripheral/" + disk.id + "/virtio-backend";
    return disk.id;
}

}  // namespace

monitor::Json throttleArgs(const Device& disk) {
    auto limits = limitsOf(disk);
    JsonObject args;
    args.set("id", throttleTarget(disk));
    for (const auto& limit : kLimitKeys) {
        auto it = limits.find(limit.key);
        // The six rates are mandatory (0: no limit); a burst only when it is set.
        if (it != limits.end())
            args.set(limit.qmp, it->second);
        else if (limit.rate.empty())
            args.set(limit.qmp, std::uint64_t{0});
    }
    if (!limits.empty()) args.set("group", throttleGroupOf(disk));
    return args.take();
}

awaitable<Result<void>> applyLimits(monitor::QmpClient& qmp, Device disk) {
    auto args = throttleArgs(disk);
    auto set = co_await qmp.execute("block_set_io_throttle", std::move(args));
    if (!set) co_return set.error();
    co_return Result<void>();
}

}  // namespace corral::hypervisor

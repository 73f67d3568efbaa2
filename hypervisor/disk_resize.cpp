#include "hypervisor/disk_resize.hpp"

#include "hypervisor/block_nodes.hpp"
#include "hypervisor/device_backend.hpp"

namespace corral::hypervisor {

using monitor::awaitable;
using monitor::JsonObject;
using monitor::makeError;
using monitor::Result;

std::optional<std::string> resizeRefusal(const Device& device) {
    if (!device.kind || device.kind->backend != Backend::Block) {
        return device.id + " is a " + std::string(device.kindName()) +
               ", not a disk; only disks can be resized";
    }
    if (device.flag("readonly")) return "disk " + device.id + " is read-only; it cannot grow";
    return std::nullopt;
}

std::optional<SizeRefusal> sizeRefusal(std::string_view id, std::uint64_t current,
                                       std::uint64_t bytes) {
    std::string disk = "disk " + std::string(id);
    if (bytes == current) {
        return SizeRefusal{true, disk + " already has " + std::to_string(current) + " bytes"};
    }
    if (bytes < current) {
        return SizeRefusal{false, disk + " has " + std::to_string(current) +
                                      " bytes; shrinking it to " + std::to_string(bytes) +
                                      " is refused (data beyond the new end would be lost)"};
    }
    return std::nullopt;
}

awaitable<Result<std::uint64_t>> diskSize(monitor::QmpClient& qmp, std::string id) {
    auto nodes =
        co_await qmp.execute("query-named-block-nodes", JsonObject().set("flat", true).take());
    if (!nodes) co_return nodes.error();
    std::string node = formatNodeOf(id);
    if (nodes->IsArray()) {
        for (const auto& entry : nodes->GetArray()) {
            if (stringMember(entry, "node-name") != node || !entry.HasMember("image")) continue;
            const auto& image = entry["image"];
            if (image.IsObject() && image.HasMember("virtual-size") &&
                image["virtual-size"].IsUint64()) {
                co_return image["virtual-size"].GetUint64();
            }
        }
    }
    co_return makeError(Errc::NoSuchDevice, id, "QEMU has no block node " + node);
}

awaitable<Result<bool>> migrating(monitor::QmpClient& qmp) {
    auto query = co_await qmp.execute("query-migrate");
    if (!query) co_return query.error();
    std::string status = query->IsObject() ? stringMember(*query, "status") : std::string();
    co_return !status.empty() && status != "completed" && status != "failed" &&
        status != "cancelled" && status != "none";
}

awaitable<Result<void>> growDisk(monitor::QmpClient& qmp, std::string id, std::uint64_t bytes) {
    auto args = JsonObject().set("node-name", formatNodeOf(id)).set("size", bytes).take();
    auto resized = co_await qmp.execute("block_resize", std::move(args));
    if (!resized) co_return resized.error();
    co_return Result<void>();
}

}  // namespace corral::hypervisor

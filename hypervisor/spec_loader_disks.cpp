#include "hypervisor/spec_loader_disks.hpp"

#include <map>

#include "hypervisor/disk_limits.hpp"

namespace corral::hypervisor {

namespace {

struct Group {
    const Device* first = nullptr;  // the first member that gives limits
    toml::source_position where;
};

}  // namespace

void checkThrottleGroups(TomlReader& l, const toml::table& root, InstanceSpec& spec) {
    const DeviceKind* disk = findKind("disk");
    // The throttle_group node of each disk, by id (a table without "id" has the default id).
    std::map<std::string, const toml::node*, std::less<>> nodes;
    std::size_t index = 0;
    const auto* tables = root.get_as<toml::array>(disk->name);  // loadDevices reported its type
    for (std::size_t i = 0; tables && i < tables->size(); ++i) {
        const auto* t = tables->get(i)->as_table();
        if (!t) continue;
        std::string id = std::string(disk->idPrefix) + std::to_string(index++);
        if (const auto* given = t->get("id"); given && given->is_string())
            id = given->as_string()->get();
        if (const auto* node = t->get(kThrottleGroupKey)) nodes.emplace(id, node);
    }
    std::map<std::string, Group, std::less<>> groups;
    for (const auto& device : spec.devices) {
        auto node = nodes.find(device.id);
        if (device.kind != disk || node == nodes.end() || !hasLimits(device)) continue;
        auto [it, fresh] = groups.emplace(std::string(device.text(kThrottleGroupKey)),
                                          Group{&device, node->second->source().begin});
        if (fresh || limitsOf(device) == limitsOf(*it->second.first)) continue;
        l.error(node->second->source(),
                std::string(kThrottleGroupKey) + ": disk " + device.id +
                    " gives other limits than disk " + it->second.first->id + " (line " +
                    std::to_string(it->second.where.line) + "), which shares throttle group " +
                    inQuotes(it->first) + "; give the limits on one of them, or the same on each");
    }
    for (auto& device : spec.devices) {
        if (device.kind != disk || hasLimits(device)) continue;
        auto group = groups.find(device.text(kThrottleGroupKey));
        if (device.text(kThrottleGroupKey).empty() || group == groups.end()) continue;
        for (const auto& [key, value] : limitsOf(*group->second.first))
            device.options.insert_or_assign(key, std::to_string(value));
    }
}

}  // namespace corral::hypervisor

// Hotplug::recover(): after a corrald killed mid-hotplug, make the bookkeeping match QEMU and
// delete the half-built backends that would block the same id.
#include <string_view>

#include "hypervisor/hotplug_impl.hpp"
#include "hypervisor/qemu_argv.hpp"

namespace corral::hypervisor {

using monitor::awaitable;
using monitor::JsonObject;
using monitor::Result;

namespace {

std::string stringMember(const rapidjson::Value& object, const char* name) {
    if (!object.IsObject() || !object.HasMember(name) || !object[name].IsString()) return {};
    return object[name].GetString();
}

// "<id><suffix>" -> "<id>", or empty if `name` does not end with `suffix`.
std::string idBefore(std::string_view name, std::string_view suffix) {
    if (name.size() <= suffix.size() || !name.ends_with(suffix)) return {};
    return std::string(name.substr(0, name.size() - suffix.size()));
}

}  // namespace

bool Hotplug::Impl::owns(const std::string& id) const {
    return plan_.find(id) || devices_.count(id) || busy_.count(id);
}

awaitable<Result<Recovery>> Hotplug::Impl::recover() {
    auto live = co_await peripheralDevices();
    if (!live) co_return live.error();
    Recovery recovery;
    for (const auto& [id, kind] : *live) {
        if (owns(id)) continue;
        // device_add is the last step that matters (remove-fd only tidies up): a device QEMU has
        // is complete and the guest may already use it, so it is recorded, not pulled away.
        auto slot = slots_.slotOf(id);
        if (!slot) continue;  // not in one of our hotplug slots: not ours to manage
        devices_[id] = {id, kind, *slot, ""};
        recovery.adopted.push_back(id);
    }
    // Recorded but gone: a detach the guest completed while nobody was listening.
    for (auto it = devices_.begin(); it != devices_.end();) {
        if (live->count(it->first) || busy_.count(it->first)) {
            ++it;
            continue;
        }
        recovery.dropped.push_back(it->first);
        slots_.release(it->first);
        it = devices_.erase(it);
    }
    co_await removeOrphanNodes(recovery);
    co_await removeOrphanNetdevs(recovery);
    co_await removeTaggedFdsets(recovery);
    co_return recovery;
}

awaitable<Result<std::map<std::string, std::string>>> Hotplug::Impl::peripheralDevices() {
    auto children =
        co_await qmp_->execute("qom-list", JsonObject().set("path", "/machine/peripheral").take());
    if (!children) co_return children.error();
    std::map<std::string, std::string> out;  // id -> "disk" | "nic"
    if (!children->IsArray()) co_return out;
    for (const auto& child : children->GetArray()) {
        std::string id = stringMember(child, "name");
        std::string type = stringMember(child, "type");
        if (id.empty() || id.starts_with("corral") || plan_.find(id)) continue;
        if (type == "child<virtio-blk-pci>") out[id] = "disk";
        if (type == "child<virtio-net-pci>") out[id] = "nic";
    }
    co_return out;
}

awaitable<void> Hotplug::Impl::removeOrphanNodes(Recovery& recovery) {
    auto nodes =
        co_await qmp_->execute("query-named-block-nodes", JsonObject().set("flat", true).take());
    if (!nodes || !nodes->IsArray()) co_return;
    // Format nodes first: a file node cannot go while its format node still uses it.
    std::vector<std::string> orphans;
    for (auto suffix : {formatNodeName(""), fileNodeName("")}) {
        for (const auto& node : nodes->GetArray()) {
            std::string name = stringMember(node, "node-name");
            std::string id = idBefore(name, suffix);
            if (!id.empty() && !owns(id)) orphans.push_back(name);
        }
    }
    for (const auto& name : orphans) {
        // QEMU refuses to delete a node in use, so nothing a device holds can go here.
        auto deleted =
            co_await qmp_->execute("blockdev-del", JsonObject().set("node-name", name).take());
        if (deleted) recovery.removed.push_back("block node " + name);
    }
}

awaitable<void> Hotplug::Impl::removeOrphanNetdevs(Recovery& recovery) {
    // QMP of qemu 7.2 cannot list netdevs: "info network" prints one line per client, a NIC's
    // backend indented under it. Only top-level non-NIC lines are netdevs without a device.
    auto text = co_await qmp_->execute("human-monitor-command",
                                       JsonObject().set("command-line", "info network").take());
    if (!text || !text->IsString()) co_return;
    std::string_view all(text->GetString(), text->GetStringLength());
    std::vector<std::string> orphans;
    while (!all.empty()) {
        auto end = all.find('\n');
        std::string_view line = all.substr(0, end);
        all = end == std::string_view::npos ? std::string_view() : all.substr(end + 1);
        auto colon = line.find(':');
        if (line.empty() || line.front() == ' ' || colon == std::string_view::npos ||
            line.find("type=nic") != std::string_view::npos) {
            continue;
        }
        std::string_view name = line.substr(0, colon);
        std::string id = idBefore(name, netdevId(""));
        if (!id.empty() && !owns(id)) orphans.emplace_back(name);
    }
    for (const auto& name : orphans) {
        auto deleted = co_await qmp_->execute("netdev_del", JsonObject().set("id", name).take());
        if (deleted) recovery.removed.push_back("netdev " + name);
    }
}

awaitable<void> Hotplug::Impl::removeTaggedFdsets(Recovery& recovery) {
    auto fdsets = co_await qmp_->execute("query-fdsets");
    if (!fdsets || !fdsets->IsArray()) co_return;
    std::vector<int> tagged;
    for (const auto& fdset : fdsets->GetArray()) {
        if (!fdset.IsObject() || !fdset.HasMember("fdset-id") || !fdset["fdset-id"].IsInt() ||
            !fdset.HasMember("fds") || !fdset["fds"].IsArray()) {
            continue;
        }
        for (const auto& fd : fdset["fds"].GetArray()) {
            if (stringMember(fd, "opaque").starts_with(kFdsetTag)) {
                tagged.push_back(fdset["fdset-id"].GetInt());
                break;
            }
        }
    }
    // A block node that already uses the image keeps its own dup: removing the set is safe.
    for (int id : tagged) {
        auto removed = co_await qmp_->removeFd(id);
        if (removed) recovery.removed.push_back("fdset " + std::to_string(id));
    }
}

}  // namespace corral::hypervisor

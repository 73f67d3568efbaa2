// Hotplug::recover(): after a corrald killed mid-hotplug, make the bookkeeping match QEMU and
// let every backend delete the half-built pieces that would block the same id.
#include <algorithm>
#include <string_view>

#include "hypervisor/device_backend.hpp"
#include "hypervisor/hotplug_impl.hpp"

namespace corral::hypervisor {

using monitor::awaitable;
using monitor::JsonObject;
using monitor::Result;

bool Hotplug::Impl::owns(const std::string& id) const {
    return plan_.find(id) || devices_.count(id) || busy_.count(id);
}

awaitable<Result<Recovery>> Hotplug::Impl::recover() {
    auto live = co_await peripheralDevices();
    if (!live) co_return live.error();
    Recovery recovery;
    for (const auto& [id, kind] : *live) {
        if (owns(id)) continue;
        // device_add is the last step that matters (what follows only tidies up): a device QEMU
        // has is complete and the guest may already use it, so it is recorded, not pulled away.
        auto slot = slots_.slotOf(id);
        if (!slot) continue;  // not in one of our hotplug slots: not ours to manage
        devices_[id] = Device{id, kind, *slot, true, {}, {}};
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
    // Each backend once, in the order of the kind table.
    std::vector<const DeviceBackend*> backends;
    for (const auto* kind : deviceKinds()) {
        const auto* backend = &backendOf(*kind);
        if (std::find(backends.begin(), backends.end(), backend) == backends.end())
            backends.push_back(backend);
    }
    DeviceBackend::Owned owned = [this](const std::string& id) { return owns(id); };
    for (const auto* backend : backends)
        co_await backend->removeOrphans(*qmp_, owned, recovery.removed);
    co_return recovery;
}

awaitable<Result<std::map<std::string, const DeviceKind*>>> Hotplug::Impl::peripheralDevices() {
    auto children =
        co_await qmp_->execute("qom-list", JsonObject().set("path", "/machine/peripheral").take());
    if (!children) co_return children.error();
    std::map<std::string, const DeviceKind*> out;
    if (!children->IsArray()) co_return out;
    for (const auto& child : children->GetArray()) {
        std::string id = stringMember(child, "name");
        std::string type = stringMember(child, "type");
        if (id.empty() || id.starts_with("corral") || plan_.find(id)) continue;
        for (const auto* kind : deviceKinds()) {
            if (!kind->hotpluggable) continue;
            if (type == "child<" + std::string(kind->driver) + ">") out[id] = kind;
            for (const auto& choice : kind->drivers)
                if (type == "child<" + std::string(choice.driver) + ">") out[id] = kind;
        }
    }
    co_return out;
}

}  // namespace corral::hypervisor

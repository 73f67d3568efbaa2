#include "hypervisor/device.hpp"

#include <cstdio>

#include "hypervisor/ide_ports.hpp"

namespace corral::hypervisor {

std::string PciSlot::toString() const {
    char buf[16];
    std::snprintf(buf, sizeof buf, ":%02x.0", slot);
    return bus + buf;
}

std::string PciSlot::addr() const {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%x", slot);
    return buf;
}

const OptionSpec* DeviceKind::option(std::string_view key) const {
    for (const auto& spec : options)
        if (spec.key == key) return &spec;
    return nullptr;
}

std::string_view Device::text(std::string_view key) const {
    auto it = options.find(key);
    if (it == options.end()) return {};
    auto* value = std::get_if<std::string>(&it->second);
    return value ? std::string_view(*value) : std::string_view();
}

bool Device::flag(std::string_view key) const {
    auto it = options.find(key);
    if (it == options.end()) return false;
    auto* value = std::get_if<bool>(&it->second);
    return value && *value;
}

std::string_view Device::kindName() const {
    return kind ? kind->name : std::string_view();
}

std::string_view Device::driver() const {
    if (!kind) return {};
    for (const auto& choice : kind->drivers) {
        if (text(choice.when.key) == choice.when.value) return choice.driver;
    }
    return kind->driver;
}

bool Device::onScsi() const {
    if (!kind) return false;
    for (const auto& choice : kind->drivers) {
        if (text(choice.when.key) == choice.when.value) return choice.scsi;
    }
    return false;
}

std::vector<std::pair<std::string, std::string>> placement(const PciSlot& slot) {
    if (slot.bus == kScsiBus) {
        return {{"bus", slot.bus}, {"scsi-id", std::to_string(slot.slot)}, {"lun", "0"}};
    }
    if (isIdePort(slot)) return {{"bus", slot.bus}, {"unit", std::to_string(slot.slot)}};
    return {{"bus", slot.bus}, {"addr", slot.addr()}};
}

const DeviceKind* findKind(std::string_view name) {
    for (const auto* kind : deviceKinds())
        if (kind->name == name) return kind;
    return nullptr;
}

std::string attachableKinds() {
    std::string out;
    for (const auto* kind : deviceKinds()) {
        if (kind->definable && kind->hotpluggable)
            out += (out.empty() ? "" : ", ") + std::string(kind->name);
    }
    return out;
}

}  // namespace corral::hypervisor

#include "hypervisor/spec_loader_boot.hpp"

#include <algorithm>

#include "hypervisor/boot_order.hpp"

namespace corral::hypervisor {

void loadFirmware(TomlReader& l, const toml::table& t, InstanceSpec& spec) {
    l.checkKeys(t, {"type", "secure_boot"}, "[firmware]");
    auto& firmware = spec.firmware;
    if (auto type = l.choice(t, "type", kFirmwareTypes)) firmware.type = *type;
    l.boolean(t, "secure_boot", firmware.secureBoot);
    const auto* secure = t.get("secure_boot");
    if (!secure || !firmware.secureBoot) return;
    if (firmware.type != FirmwareType::Uefi) {
        l.error(secure->source(),
                "secure_boot: needs type = \"uefi\" (Secure Boot is a feature of UEFI firmware)");
    } else if (spec.machine.type != MachineType::Q35) {
        l.error(secure->source(),
                "secure_boot: needs [machine] type = \"q35\" (the Secure Boot firmware keeps its "
                "variables safe in SMM, which corral enables on q35 only)");
    }
}

bool loadBootOrder(TomlReader& l, const toml::table& root, const toml::table& boot,
                   InstanceSpec& spec) {
    if (!boot.contains("order")) return false;
    for (std::string_view key : {"kernel", "initrd", "cmdline"}) {
        if (const auto* node = boot.get(key)) {
            l.error(node->source(), std::string(key) +
                                        ": not together with \"order\"; [boot] either boots a "
                                        "kernel directly (kernel, initrd, cmdline) or sets the "
                                        "firmware's boot order (order)");
        }
    }
    auto* order =
        l.get<toml::array>(boot, "order", "an array of \"cdrom\", \"disk\" and \"network\"");
    if (!order) return true;
    for (const auto& entry : *order) {
        const auto* text = entry.as_string();
        auto target = text ? kBootTargets.fromString(text->get()) : std::nullopt;
        if (!target) {
            l.error(entry.source(), "order: expected one of " +
                                        choiceList(spellings(kBootTargets)) + ", got " +
                                        (text ? inQuotes(text->get()) : typeName(entry.type())));
            continue;
        }
        if (std::find(spec.bootOrder.begin(), spec.bootOrder.end(), *target) !=
            spec.bootOrder.end()) {
            l.error(entry.source(), "order: " + inQuotes(text->get()) + " is listed twice");
            continue;
        }
        auto kind = bootTargetKind(*target);
        if (!root.contains(kind)) {
            l.error(entry.source(), "order: " + inQuotes(text->get()) +
                                        " but the definition has no [[" + std::string(kind) + "]]");
            continue;
        }
        spec.bootOrder.push_back(*target);
    }
    if (order->empty()) l.error(order->source(), "order: lists no device class");
    return true;
}

}  // namespace corral::hypervisor

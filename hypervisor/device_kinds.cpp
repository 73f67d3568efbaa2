// The device kinds: one row each, plain data. Everything corral does with a device follows from
// its row (device.hpp says what each field means); a new kind is a new row here.
#include "hypervisor/device.hpp"
#include "hypervisor/instance_name.hpp"
#include "hypervisor/instance_spec.hpp"

namespace corral::hypervisor {

namespace {

std::optional<std::string> checkBridge(std::string& value) {
    return checkInterfaceName(value);
}

std::optional<std::string> checkMac(std::string& value) {
    auto normalized = normalizeMac(value);
    if (!normalized) return std::string();
    value = *normalized;
    return std::nullopt;
}

void deriveMac(Device& nic, std::string_view instanceName) {
    if (!nic.options.count("mac")) nic.options.emplace("mac", derivedMac(instanceName, nic.id));
}

const std::vector<DeviceKind>& table() {
    static const std::vector<DeviceKind> kinds = {
        {.name = "disk",
         .driver = "virtio-blk-pci",
         .backend = Backend::Block,
         .options = {{.key = "path",
                      .type = OptionType::Path,
                      .noun = "disk path",
                      .expected = "an absolute path",
                      .required = true,
                      .namesBackend = true},
                     {.key = "format", .choices = spellings(kDiskFormats), .fallback = "raw"},
                     {.key = "readonly", .type = OptionType::Bool, .fallback = false},
                     {.key = "cache", .choices = spellings(kDiskCaches), .fallback = "writeback"}},
         .idPrefix = "disk",
         .definable = true,
         .hotpluggable = true,
         .bootable = true},
        {.name = "nic",
         .driver = "virtio-net-pci",
         .backend = Backend::Netdev,
         .options = {{.key = "mode", .choices = spellings(kNicModes), .fallback = "user"},
                     {.key = "bridge",
                      .noun = "bridge name",
                      .expected = "a network interface name",
                      .check = checkBridge,
                      .onlyWith = OptionCondition{"mode", "bridge"}},
                     {.key = "mac",
                      .noun = "MAC address",
                      .expected = "a unicast MAC address such as \"52:54:00:12:34:56\" (six hex "
                                  "pairs, first octet even)",
                      .check = checkMac,
                      .deviceProperty = "mac",
                      .unique = true}},
         .idPrefix = "net",
         .definable = true,
         .hotpluggable = true,
         .derive = deriveMac},
        {.name = "rng",
         .driver = "virtio-rng-pci",
         .backend = Backend::Object,
         .object = {.qomType = "rng-random",
                    .idSuffix = "-rng",
                    .link = "rng",
                    .properties = {{"filename", "backend"}}},
         .options = {{.key = "backend",
                      .type = OptionType::Path,
                      .noun = "entropy source",
                      .expected = "an absolute path",
                      .fallback = "/dev/urandom",
                      .namesBackend = true}},
         .idPrefix = "rng",
         .definable = true,
         .hotpluggable = true},
        {.name = "virtio-serial", .driver = "virtio-serial-pci"},
        {.name = "root-port", .driver = "pcie-root-port"},
        {.name = "vga", .driver = "VGA"},
        {.name = "virtio-vga", .driver = "virtio-vga"},
        {.name = "cirrus-vga", .driver = "cirrus-vga"},
    };
    return kinds;
}

}  // namespace

const std::vector<const DeviceKind*>& deviceKinds() {
    static const std::vector<const DeviceKind*> all = [] {
        std::vector<const DeviceKind*> out;
        for (const auto& kind : table()) out.push_back(&kind);
        return out;
    }();
    return all;
}

const DeviceKind& agentPortKind() {
    return *findKind("virtio-serial");
}

const DeviceKind& rootPortKind() {
    return *findKind("root-port");
}

}  // namespace corral::hypervisor

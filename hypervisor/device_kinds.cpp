// The device kinds: one row each, plain data. Everything corral does with a device follows from
// its row (device.hpp says what each field means); a new kind is a new row here.
#include "hypervisor/device.hpp"
#include "hypervisor/disk_limits.hpp"
#include "hypervisor/disk_nic_options.hpp"
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

// QEMU's native AIO submits with io_submit, which blocks unless the file is open with O_DIRECT.
std::optional<std::string> nativeNeedsDirect(const Options& options) {
    auto text = [&](std::string_view key) {
        auto it = options.find(key);
        auto* value = it == options.end() ? nullptr : std::get_if<std::string>(&it->second);
        return value ? std::string_view(*value) : std::string_view();
    };
    if (text("aio") != kDiskAios.toString(DiskAio::Native) ||
        text("cache") == kDiskCaches.toString(DiskCache::None)) {
        return std::nullopt;
    }
    return std::string(
               "aio \"native\" needs cache \"none\" (Linux native AIO only runs "
               "asynchronously on files opened with O_DIRECT); cache is \"") +
           std::string(text("cache")) + "\"";
}

void deriveMac(Device& nic, std::string_view instanceName) {
    if (!nic.options.count("mac")) nic.options.emplace("mac", derivedMac(instanceName, nic.id));
}

const std::vector<DeviceKind>& table() {
    static std::vector<DeviceKind> kinds = {
        {.name = "disk",
         .driver = "virtio-blk-pci",
         .backend = Backend::Block,
         .drivers = {{.when = {"bus", "scsi"}, .driver = "scsi-hd", .scsi = true},
                     {.when = {"bus", "sata"}, .driver = "ide-hd"}},
         .options = {{.key = "path",
                      .type = OptionType::Path,
                      .noun = "disk path",
                      .expected = "an absolute path",
                      .required = true,
                      .namesBackend = true},
                     {.key = "format", .choices = spellings(kDiskFormats), .fallback = "raw"},
                     {.key = "readonly", .type = OptionType::Bool, .fallback = false},
                     {.key = "cache", .choices = spellings(kDiskCaches), .fallback = "writeback"},
                     {.key = "bus", .choices = spellings(kDiskBuses), .fallback = "virtio"},
                     {.key = "discard", .choices = spellings(kDiskDiscards), .fallback = "ignore"},
                     {.key = "aio",
                      .choices = spellings(kDiskAios),
                      .fallback = "threads",
                      .fits = nativeNeedsDirect},
                     {.key = "iothread", .type = OptionType::Bool, .fallback = false}},
         .idPrefix = "disk",
         .definable = true,
         .hotpluggable = true,
         .bootable = true},
        {.name = "nic",
         .driver = "virtio-net-pci",
         .backend = Backend::Netdev,
         .drivers = {{.when = {"model", "e1000e"}, .driver = "e1000e"}},
         .options = {{.key = "mode", .choices = spellings(kNicModes), .fallback = "user"},
                     {.key = "model", .choices = spellings(kNicModels), .fallback = "virtio"},
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
        // On a port of the built-in IDE (pc) / AHCI (q35) controller (ide_ports.hpp), no PCI slot.
        {.name = "cdrom",
         .driver = "ide-cd",
         .backend = Backend::Media,
         .options = {{.key = "path",
                      .type = OptionType::Path,
                      .noun = "ISO image",
                      .expected = "an absolute path",
                      .namesBackend = true}},
         .idPrefix = "cdrom",
         .definable = true,
         .bootable = true},
        {.name = "virtio-serial", .driver = "virtio-serial-pci"},
        {.name = "root-port", .driver = "pcie-root-port"},
        {.name = "scsi-controller", .driver = "virtio-scsi-pci"},
        {.name = "vga", .driver = "VGA"},
        {.name = "virtio-vga", .driver = "virtio-vga"},
        {.name = "cirrus-vga", .driver = "cirrus-vga"},
    };
    // The disk row's I/O limit keys and throttle_group (hypervisor/disk_limits.hpp).
    static const bool limited =
        (kinds.front().options = withLimitOptions(kinds.front().options), true);
    (void)limited;
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

const DeviceKind& scsiControllerKind() {
    return *findKind("scsi-controller");
}

}  // namespace corral::hypervisor

// One device model. A device kind is one row of the table in device_kinds.cpp: its TOML section
// and keys, the option schema that D-Bus and corralctl parse, the QEMU driver, the backend it
// needs on the host and in QEMU, and whether it takes a hotplug slot. One Device record carries
// a device of any kind from the definition to the argv, state.json, hotplug and the D-Bus
// Devices property; code that handles devices reads the row instead of comparing kind names.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace corral::hypervisor {

struct PciSlot {
    std::string bus = {};  // "pci.0" (pc), "pcie.0" or a root port id (q35)
    unsigned slot = 0;

    // "bus:SS.0" with the slot in hex, e.g. "pci.0:05.0"; what the Attach methods return.
    std::string toString() const;
    // The value of QEMU's addr= property, e.g. "0x5".
    std::string addr() const;
    bool operator==(const PciSlot&) const = default;
};

// An option value: what TOML, D-Bus (s or b) and state.json all carry.
using OptionValue = std::variant<std::string, bool>;
using Options = std::map<std::string, OptionValue, std::less<>>;

enum class OptionType {
    String,
    Bool,
    Path,   // an absolute path; the TOML loader also checks that it exists and is readable
    Count,  // a whole number, kept as its decimal text: a TOML integer or a string ("1M"),
            // a string on D-Bus; OptionSpec::check normalises it
};

// A string option's own rule: may normalise `value` in place ("52:54:00:AB:..." to lower case);
// nullopt if the value is fine, else why not ("" when OptionSpec::expected says it all).
using OptionCheck = std::optional<std::string> (*)(std::string& value);

// `key` = `value` of another option of the same device.
struct OptionCondition {
    std::string_view key;
    std::string_view value;
};

struct OptionSpec {
    std::string_view key = {};  // the TOML key, the a{sv} key and corralctl's --option KEY
    OptionType type = OptionType::String;
    std::string_view noun = {};                  // for messages: "bridge name", "disk path"
    std::string_view expected = {};              // for messages: "a network interface name"
    std::vector<std::string_view> choices = {};  // a String that must be one of these spellings
    std::optional<OptionValue> fallback = {};    // the default; nullopt: absent unless derived
    bool required = false;
    OptionCheck check = nullptr;
    // Only meaningful together with another option's value: required with it, refused without.
    std::optional<OptionCondition> onlyWith = {};
    std::string_view deviceProperty = {};  // the -device / device_add property carrying the value
    bool unique = false;                   // no two devices of one definition share the value
    bool namesBackend = false;  // the value is the device's Device::backend (a disk image)
    // A rule against the device's other options, run once defaults are filled in: nullopt if
    // the value fits them, else a sentence saying why not (aio "native" without cache "none").
    std::optional<std::string> (*fits)(const Options& options) = nullptr;
};

// A driver other than DeviceKind::driver for devices whose option `when` holds (a NIC's model,
// a disk's bus). `scsi`: the device sits on corral's virtio-scsi controller (scsiControllerKind)
// instead of a PCI slot.
struct DriverChoice {
    OptionCondition when;
    std::string_view driver;
    bool scsi = false;
};

// What a kind needs besides its device, in QEMU and on the host; device_backend.hpp has the
// steps of each.
enum class Backend {
    None,    // the device stands alone
    Block,   // a disk: block nodes on an image
    Netdev,  // a NIC: a netdev, user mode or a tap
    Object,  // a QOM object (-object / object-add) described by DeviceKind::object
    Media,   // a CD-ROM: a read-only block node on the medium, if there is one (media.hpp)
};

// A Backend::Object: the object "<id><idSuffix>" of type `qomType`, with properties from the
// device's options, named by the device property `link`.
struct ObjectBackend {
    std::string_view qomType = {};
    std::string_view idSuffix = {};
    std::string_view link = {};
    std::vector<std::pair<std::string_view, std::string_view>> properties = {};  // property, option
};

struct Device;

struct DeviceKind {
    // "disk": [[disk]] in TOML, AttachDevice's kind, "kind" in state.json and Devices.
    std::string_view name = {};
    std::string_view driver = {};  // QEMU -device driver; QOM lists the device as child<driver>
    Backend backend = Backend::None;
    ObjectBackend object = {};               // Backend::Object only
    std::vector<DriverChoice> drivers = {};  // by option value; the first that holds wins
    std::vector<OptionSpec> options = {};
    std::string_view idPrefix = {};  // TOML default ids: <idPrefix><N>
    bool definable = false;          // users define and attach it (false: corral's own plumbing)
    bool hotpluggable = false;       // takes a hotplug slot; may be attached to a running VM
    bool bootable = false;           // without [boot], the first such device boots (bootindex=1)
    // Values no option default can give, from the instance name and id (a NIC's MAC).
    void (*derive)(Device& device, std::string_view instanceName) = nullptr;

    const OptionSpec* option(std::string_view key) const;
};

struct Device {
    std::string id = {};               // QEMU device id
    const DeviceKind* kind = nullptr;  // a row of deviceKinds()
    PciSlot slot = {};
    bool hotplugged = false;
    // The host side as opened: a disk's image, a NIC's tap ("" in user mode), an entropy source.
    std::string backend = {};
    // Every option of the kind, defaults and derived values filled in. Empty for a device read
    // from the first state.json format, which did not keep them.
    Options options = {};

    // The value of a string / boolean option; "" / false when it is absent.
    std::string_view text(std::string_view key) const;
    bool flag(std::string_view key) const;
    // "disk", "nic", ...; "" without a kind.
    std::string_view kindName() const;
    // The QEMU driver: the first of the kind's DriverChoice that holds, else its driver.
    std::string_view driver() const;
    // Whether it sits on corral's SCSI controller (its slot: bus kScsiBus, slot = scsi-id).
    bool onScsi() const;
};

// The id of corral's virtio-scsi controller and the bus it provides.
inline constexpr std::string_view kScsiControllerId = "corral-scsi";
inline constexpr std::string_view kScsiBus = "corral-scsi.0";

// The -device / device_add properties that place a device at `slot`: bus and addr for a PCI
// slot, bus, scsi-id and lun for a slot on kScsiBus, bus and unit for an IDE/AHCI port
// (ide_ports.hpp).
std::vector<std::pair<std::string, std::string>> placement(const PciSlot& slot);

// Every kind, in the order their devices go into the argv and onto the root bus.
const std::vector<const DeviceKind*>& deviceKinds();
// The kind called `name`, or nullptr.
const DeviceKind* findKind(std::string_view name);
// corral's own devices, placed by the slot plan and the argv builder.
const DeviceKind& agentPortKind();
const DeviceKind& rootPortKind();
const DeviceKind& scsiControllerKind();

// "disk, nic, ...": the kinds that can be attached to a running VM, for messages.
std::string attachableKinds();

}  // namespace corral::hypervisor

// The steps of each Backend (device.hpp): block nodes for a disk, a netdev (and a tap) for a
// NIC, a QOM object, or nothing for a device that stands alone. A kind's row names its backend;
// the argv builder, hotplug and recovery call it through backendOf() and know nothing of disks
// or NICs. Kept apart from the rows so that the pure parts (TOML loader, corralctl, fuzzers)
// need none of the QMP code.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hypervisor/device.hpp"
#include "hypervisor/tap.hpp"
#include "monitor/qmp_client.hpp"

namespace corral::hypervisor {

using Properties = std::vector<std::pair<std::string, std::string>>;

// device_add of one device at its slot: the step a backend's attach() wraps.
struct PlugDevice {
    monitor::QmpClient& qmp;
    const Device& device;

    monitor::awaitable<monitor::Result<void>> operator()() const;
};

class DeviceBackend {
  public:
    virtual ~DeviceBackend() = default;

    // QMP commands hotplug needs besides device_add and device_del.
    virtual std::vector<std::string_view> hotplugCommands() const { return {}; }

    // Boot: arguments that go before the device's -device. A backend that takes an fd passed at
    // spawn uses `nextFd` and increments it, exactly when openBootFd() returns one.
    virtual void bootArgs(const Device&, int& /*nextFd*/,
                          std::vector<std::string>& /*argv*/) const {}
    // The fd qemu inherits for this device (a NIC's tap), opened before spawn; its name goes to
    // Device::backend. nullopt when the device needs none.
    virtual monitor::Result<std::optional<TapDevice>> openBootFd(const Device&) const {
        return std::nullopt;
    }

    // Properties of -device / device_add that point at the backend (drive=, netdev=, ...).
    virtual Properties deviceLinks(const Device&) const { return {}; }

    // Hotplug: creates the backend, runs `plug` and tidies up. On success `device.backend` names
    // the host side; on failure nothing it created is left in QEMU.
    virtual monitor::awaitable<monitor::Result<void>> attach(monitor::QmpClient&, Device& device,
                                                             const PlugDevice& plug) const;
    // After DEVICE_DELETED (or a failed plug): deletes what attach() created.
    virtual monitor::awaitable<void> remove(monitor::QmpClient&, const Device&) const;

    // Recovery after an interrupted hotplug: deletes QEMU objects with this backend's naming
    // whose device id `owned` rejects, and says what went ("block node x-file").
    using Owned = std::function<bool(const std::string& id)>;
    virtual monitor::awaitable<void> removeOrphans(monitor::QmpClient&, const Owned& owned,
                                                   std::vector<std::string>& removed) const;
};

// The steps of the kind's Backend.
const DeviceBackend& backendOf(const DeviceKind& kind);

// Backend::Block: file and format block nodes "<id>-file" / "<id>-format"; the image fd is
// passed with add-fd (opaque kFdsetTag + id) at hotplug.
const DeviceBackend& blockBackend();
// Backend::Netdev: netdev "<id>-netdev", user mode or a tap corrald opens (fd at spawn, getfd
// at hotplug).
const DeviceBackend& netdevBackend();
// Backend::Object: the kind's ObjectBackend, -object at boot, object-add / object-del.
const DeviceBackend& objectBackend();

// Backend::Media: a read-only block node "<id>-medium" on the ISO, none for an empty drive.
const DeviceBackend& mediaBackend();

// add-fd opaque of the image fds a disk hotplug passes: recovery removes fdsets carrying it.
inline constexpr std::string_view kFdsetTag = "corral-hotplug:";

// add-fd of `fd` (corrald's; the caller closes it) with the opaque kFdsetTag + `id`, so an fdset
// left by an interrupted attach can be told apart from anyone else's; the fdset's id. QEMU opens
// "/dev/fdset/<id>" with the access mode of `fd`: a confined qemu opens no path itself.
monitor::awaitable<monitor::Result<int>> addTaggedFd(monitor::QmpClient& qmp, int fd,
                                                     const std::string& id);

// A hotplugged PCI device gets no option ROM (romfile=""): QEMU reads the ROM file when the
// device is added, which a confined qemu cannot (its root is empty), and firmware never boots
// from a device added after it ran. Its record on a relaunched or incoming qemu's command line
// gets the same, so both ends of a migration have the same memory layout.
inline constexpr const char* kHotplugRomfile = "";

// Recovery: runs `command` {`key`: name} for each of `names`, and for each that QEMU deleted adds
// "<what> <name>" to `removed`.
monitor::awaitable<void> deleteEach(monitor::QmpClient& qmp, std::string command, std::string key,
                                    std::string what, std::vector<std::string> names,
                                    std::vector<std::string>& removed);

// "<id><suffix>" -> "<id>", or "" if `name` does not end with `suffix` after a non-empty id.
std::string idBefore(std::string_view name, std::string_view suffix);

// The string member `name` of a JSON object, or "".
std::string stringMember(const rapidjson::Value& object, const char* name);

}  // namespace corral::hypervisor

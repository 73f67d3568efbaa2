// Instance.ResizeDisk, SetDiskLimits and GetDiskLimits: the arguments are checked here
// (disk_args), the rest is the VM's.
#include <algorithm>

#include "hypervisor/disk_limits.hpp"
#include "supervisor/dbus_internal.hpp"
#include "supervisor/dbus_reply.hpp"
#include "supervisor/disk_args.hpp"

namespace corral::supervisor {

namespace {

InstanceRef& ref(void* userdata) {
    return *static_cast<InstanceRef*>(userdata);
}

// SetDiskLimits' a{sv}: numbers with their value, any other type by its signature only. Stops
// after one entry more than there are limit keys, which the validator refuses anyway.
int readLimitDict(sd_bus_message* m, std::vector<LimitEntry>& out) {
    return readVariantDict(m, hypervisor::kLimitKeys.size(),
                           [&](sd_bus_message* m, const char* key, const std::string& type) {
                               LimitEntry entry;
                               entry.key = key;
                               entry.type = type;
                               int r = 0;
                               if (type == "t") {
                                   r = sd_bus_message_read(m, "v", "t", &entry.value);
                               } else if (type == "u") {
                                   uint32_t value = 0;
                                   r = sd_bus_message_read(m, "v", "u", &value);
                                   entry.value = value;
                               } else if (type == "x" || type == "i") {
                                   int64_t value = 0;
                                   int32_t small = 0;
                                   r = type == "x" ? sd_bus_message_read(m, "v", "x", &value)
                                                   : sd_bus_message_read(m, "v", "i", &small);
                                   if (type == "i") value = small;
                                   entry.negative = value < 0;
                                   entry.value = value < 0 ? 0 : static_cast<uint64_t>(value);
                               } else {
                                   r = sd_bus_message_skip(m, "v");
                               }
                               if (r < 0) return r;
                               out.push_back(std::move(entry));
                               return static_cast<int>(out.size());
                           });
}

}  // namespace

int methodResizeDisk(sd_bus_message* m, void* userdata, sd_bus_error* error) {
    const char* id = nullptr;
    std::uint64_t bytes = 0;
    int r = sd_bus_message_read(m, "st", &id, &bytes);
    if (r < 0) return r;
    if (auto bad = checkResizeArguments(id, bytes)) return setError(error, *bad);
    auto call = PendingCall(ref(userdata).loop, m);
    ref(userdata).vm->resizeDisk(id, bytes, [call](Status s) { call.finish(s); });
    return 1;
}

int methodSetDiskLimits(sd_bus_message* m, void* userdata, sd_bus_error* error) {
    const char* id = nullptr;
    int r = sd_bus_message_read(m, "s", &id);
    if (r < 0) return r;
    std::vector<LimitEntry> entries;
    if ((r = readLimitDict(m, entries)) < 0) return r;
    auto changes = validateSetDiskLimits(id, entries);
    if (!changes) return setError(error, changes.error());
    auto call = PendingCall(ref(userdata).loop, m);
    ref(userdata).vm->setDiskLimits(id, std::move(changes.value()),
                                    [call](Status s) { call.finish(s); });
    return 1;
}

// The limits of disk `id` as its record has them: each set limit (t) and throttle_group (s) if
// the disk names one.
int methodGetDiskLimits(sd_bus_message* m, void* userdata, sd_bus_error* error) {
    const char* id = nullptr;
    int r = sd_bus_message_read(m, "s", &id);
    if (r < 0) return r;
    if (auto bad = checkDeviceIdArgument(id)) return setError(error, *bad);
    Vm& vm = *ref(userdata).vm;
    if (vm.lifecycle().pid() == 0)
        return setError(error, {ErrorKind::InvalidState,
                                vm.name() + " is not running; its definition has the limits of "
                                            "the next start."});
    auto devices = vm.devices();
    auto disk =
        std::find_if(devices.begin(), devices.end(), [&](const auto& d) { return d.id == id; });
    if (disk == devices.end() || !disk->kind || disk->kind->backend != hypervisor::Backend::Block)
        return setError(error,
                        {ErrorKind::InvalidArgument, vm.name() + " has no disk " + id + "."});
    MessageRef reply;
    if ((r = sd_bus_message_new_method_return(m, reply.put())) < 0) return r;
    sd_bus_message* raw = reply.get();
    if ((r = sd_bus_message_open_container(raw, 'a', "{sv}")) < 0) return r;
    for (const auto& [key, value] : hypervisor::limitsOf(*disk))
        if ((r = sd_bus_message_append(raw, "{sv}", key.c_str(), "t", value)) < 0) return r;
    if (auto group = std::string(disk->text(hypervisor::kThrottleGroupKey)); !group.empty())
        if ((r = sd_bus_message_append(raw, "{sv}", "throttle_group", "s", group.c_str())) < 0)
            return r;
    if ((r = sd_bus_message_close_container(raw)) < 0) return r;
    return sd_bus_send(nullptr, raw, nullptr);
}

}  // namespace corral::supervisor

// Instance.Snapshot, ListSnapshots, RevertSnapshot and DeleteSnapshot: names and options are
// checked here, the rest is the VM's (snapshot_vm.cpp).
#include <set>

#include "supervisor/dbus_internal.hpp"
#include "supervisor/dbus_reply.hpp"
#include "supervisor/snapshot_record.hpp"

namespace corral::supervisor {

namespace {

constexpr std::size_t kMaxSnapshotOptions = 4;

InstanceRef& ref(void* userdata) {
    return *static_cast<InstanceRef*>(userdata);
}

// The boolean options of `method` from its a{sv}; `allowed` are their keys. Another key, another
// type or a repeated key fills `bad`.
int readFlags(sd_bus_message* m, const std::string& method, const std::set<std::string>& allowed,
              std::map<std::string, bool>& flags, std::optional<OpError>& bad) {
    return readVariantDict(
        m, kMaxSnapshotOptions, [&](sd_bus_message* m, const char* key, const std::string& type) {
            int value = 0;
            int r = type == "b" ? sd_bus_message_read(m, "v", "b", &value)
                                : sd_bus_message_skip(m, "v");
            if (r < 0) return r;
            if (bad) return static_cast<int>(flags.size());
            std::string k = key;
            if (!allowed.count(k))
                bad =
                    OpError{ErrorKind::InvalidArgument, method + ": unknown option \"" + k + "\"."};
            else if (type != "b")
                bad =
                    OpError{ErrorKind::InvalidArgument,
                            method + ": option \"" + k + "\" is a boolean (b), not " + type + "."};
            else if (!flags.emplace(k, value != 0).second)
                bad = OpError{ErrorKind::InvalidArgument,
                              method + ": option \"" + k + "\" is given twice."};
            return static_cast<int>(flags.size());
        });
}

std::optional<OpError> nameRefusal(const std::string& method, const char* name) {
    if (auto problem = snapshotNameProblem(name))
        return OpError{ErrorKind::InvalidArgument, method + ": " + *problem + "."};
    return std::nullopt;
}

}  // namespace

int methodSnapshot(sd_bus_message* m, void* userdata, sd_bus_error* error) {
    const char* name = nullptr;
    int r = sd_bus_message_read(m, "s", &name);
    if (r < 0) return r;
    std::map<std::string, bool> flags;
    std::optional<OpError> bad;
    if ((r = readFlags(m, "Snapshot", {"memory", "freeze"}, flags, bad)) < 0) return r;
    if (r == 0 && flags.size() > kMaxSnapshotOptions)
        bad = OpError{ErrorKind::InvalidArgument, "Snapshot: too many options."};
    if (!bad) bad = nameRefusal("Snapshot", name);
    if (!bad && flags["memory"])
        bad = OpError{ErrorKind::NotSupported,
                      "Snapshot: memory = true is not built yet; a snapshot holds the disks only "
                      "(Save keeps the memory of a VM that stops)."};
    if (!bad && flags["freeze"])
        bad = OpError{ErrorKind::NotSupported,
                      "Snapshot: freeze = true needs qemu-guest-agent's fsfreeze, which corral "
                      "does not speak yet; a snapshot without it is crash-consistent."};
    if (bad) return setError(error, *bad);
    auto call = PendingCall(ref(userdata).loop, m);
    ref(userdata).vm->snapshot(name, [call](Status s) { call.finish(s); });
    return 1;
}

int methodRevertSnapshot(sd_bus_message* m, void* userdata, sd_bus_error* error) {
    const char* name = nullptr;
    int r = sd_bus_message_read(m, "s", &name);
    if (r < 0) return r;
    std::map<std::string, bool> flags;
    std::optional<OpError> bad;
    if ((r = readFlags(m, "RevertSnapshot", {"force"}, flags, bad)) < 0) return r;
    if (!bad) bad = nameRefusal("RevertSnapshot", name);
    if (bad) return setError(error, *bad);
    auto call = PendingCall(ref(userdata).loop, m);
    ref(userdata).vm->revertSnapshot(name, flags["force"], [call](Status s) { call.finish(s); });
    return 1;
}

int methodDeleteSnapshot(sd_bus_message* m, void* userdata, sd_bus_error* error) {
    const char* name = nullptr;
    int r = sd_bus_message_read(m, "s", &name);
    if (r < 0) return r;
    if (auto bad = nameRefusal("DeleteSnapshot", name)) return setError(error, *bad);
    auto call = PendingCall(ref(userdata).loop, m);
    ref(userdata).vm->deleteSnapshot(name, [call](Status s) { call.finish(s); });
    return 1;
}

// a(sta(sss)): each snapshot, oldest first, with its creation time (µs since the epoch) and per
// disk the id, the image it froze and the overlay on it.
int methodListSnapshots(sd_bus_message* m, void* userdata, sd_bus_error* error) {
    auto chain = ref(userdata).vm->snapshots();
    if (!chain) return setError(error, chain.error());
    MessageRef reply;
    int r = sd_bus_message_new_method_return(m, reply.put());
    if (r < 0) return r;
    sd_bus_message* raw = reply.get();
    if ((r = sd_bus_message_open_container(raw, 'a', "(sta(sss))")) < 0) return r;
    for (const auto& s : chain.value().snapshots) {
        if ((r = sd_bus_message_open_container(raw, 'r', "sta(sss)")) < 0) return r;
        if ((r = sd_bus_message_append(raw, "st", s.name.c_str(), s.createdUsec)) < 0) return r;
        if ((r = sd_bus_message_open_container(raw, 'a', "(sss)")) < 0) return r;
        for (const auto& layer : s.disks)
            if ((r = sd_bus_message_append(raw, "(sss)", layer.disk.c_str(), layer.base.c_str(),
                                           layer.overlay.c_str())) < 0)
                return r;
        if ((r = sd_bus_message_close_container(raw)) < 0) return r;
        if ((r = sd_bus_message_close_container(raw)) < 0) return r;
    }
    if ((r = sd_bus_message_close_container(raw)) < 0) return r;
    return sd_bus_send(nullptr, raw, nullptr);
}

}  // namespace corral::supervisor

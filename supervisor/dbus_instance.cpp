// org.corral1.Instance: properties read the Vm, methods hand off to it and reply when done.
#include <algorithm>
#include <cstdlib>

#include "supervisor/dbus_args.hpp"
#include "supervisor/dbus_caller.hpp"
#include "supervisor/dbus_internal.hpp"
#include "supervisor/dbus_reply.hpp"

namespace corral::supervisor {

namespace {

using namespace std::chrono;

InstanceRef& ref(void* userdata) {
    return *static_cast<InstanceRef*>(userdata);
}

PendingCall pending(sd_bus_message* m, void* userdata) {
    return PendingCall(ref(userdata).loop, m);
}

// One getter per property, each reading one thing: a property missing here is a build error
// in the vtable below, never another property's value.
template <int (*Get)(sd_bus_message*, Vm&)>
int property(sd_bus*, const char*, const char*, const char*, sd_bus_message* reply, void* userdata,
             sd_bus_error*) {
    return Get(reply, *ref(userdata).vm);
}

int getName(sd_bus_message* m, Vm& vm) {
    return sd_bus_message_append(m, "s", vm.name().c_str());
}
int getState(sd_bus_message* m, Vm& vm) {
    return sd_bus_message_append(m, "s", toString(vm.lifecycle().state()));
}
int getPid(sd_bus_message* m, Vm& vm) {
    return sd_bus_message_append(m, "u", static_cast<uint32_t>(vm.lifecycle().pid()));
}
int getStartedAt(sd_bus_message* m, Vm& vm) {
    return sd_bus_message_append(m, "t", vm.lifecycle().startedAtUsec());
}
int getAgentConnected(sd_bus_message* m, Vm& vm) {
    return sd_bus_message_append(m, "b", vm.lifecycle().agentConnected());
}

int getQemuGaConnected(sd_bus_message* m, Vm& vm) {
    return sd_bus_message_append(m, "b", static_cast<int>(vm.qemuGaConnected()));
}
int getMonitorState(sd_bus_message* m, Vm& vm) {
    return sd_bus_message_append(m, "s", toString(vm.lifecycle().monitorState()));
}
int getLastExit(sd_bus_message* m, Vm& vm) {
    return sd_bus_message_append(m, "s", vm.lifecycle().lastExit().c_str());
}
int getMachine(sd_bus_message* m, Vm& vm) {
    return sd_bus_message_append(m, "s", vm.info().machine.c_str());
}
int getVcpus(sd_bus_message* m, Vm& vm) {
    return sd_bus_message_append(m, "u", vm.info().vcpus);
}
int getMemoryBytes(sd_bus_message* m, Vm& vm) {
    return sd_bus_message_append(m, "t", vm.info().memoryBytes);
}
int getUuid(sd_bus_message* m, Vm& vm) {
    return sd_bus_message_append(m, "s", vm.info().uuid.c_str());
}
int getQmpSocket(sd_bus_message* m, Vm& vm) {
    return sd_bus_message_append(m, "s", vm.info().qmpSocket.c_str());
}
int getSerialSocket(sd_bus_message* m, Vm& vm) {
    return sd_bus_message_append(m, "s", vm.info().serialSocket.c_str());
}
int getDevices(sd_bus_message* m, Vm& vm) {
    int r = sd_bus_message_open_container(m, 'a', "(ssss)");
    if (r < 0) return r;
    for (const auto& d : vm.devices()) {
        r = sd_bus_message_append(m, "(ssss)", d.id.c_str(), std::string(d.kindName()).c_str(),
                                  d.slot.bus.c_str(), d.slot.addr().c_str());
        if (r < 0) return r;
    }
    return sd_bus_message_close_container(m);
}

// The CD-ROMs and what is in each now ("" for an empty drive): Devices has no field for it.
int getMedia(sd_bus_message* m, Vm& vm) {
    int r = sd_bus_message_open_container(m, 'a', "(ss)");
    if (r < 0) return r;
    for (const auto& d : vm.devices()) {
        if (d.kindName() != "cdrom") continue;
        r = sd_bus_message_append(m, "(ss)", d.id.c_str(), std::string(d.text("path")).c_str());
        if (r < 0) return r;
    }
    return sd_bus_message_close_container(m);
}

int lifecycleCall(sd_bus_message* m, void* userdata, void (Instance::*method)(Done)) {
    auto call = pending(m, userdata);
    (ref(userdata).vm->lifecycle().*method)([call](Status s) { call.finish(s); });
    return 1;
}

int methodStart(sd_bus_message* m, void* u, sd_bus_error*) {
    return lifecycleCall(m, u, &Instance::start);
}
int methodKill(sd_bus_message* m, void* u, sd_bus_error*) {
    return lifecycleCall(m, u, &Instance::kill);
}
int methodReboot(sd_bus_message* m, void* u, sd_bus_error*) {
    return lifecycleCall(m, u, &Instance::reboot);
}
int methodReset(sd_bus_message* m, void* u, sd_bus_error*) {
    return lifecycleCall(m, u, &Instance::reset);
}
int methodPause(sd_bus_message* m, void* u, sd_bus_error*) {
    return lifecycleCall(m, u, &Instance::pause);
}
int methodResume(sd_bus_message* m, void* u, sd_bus_error*) {
    return lifecycleCall(m, u, &Instance::resume);
}

int methodShutdown(sd_bus_message* m, void* u, sd_bus_error* error) {
    uint64_t usec = 0;
    int r = sd_bus_message_read(m, "t", &usec);
    if (r < 0) return r;
    if (auto bad = checkTimeoutArgument("Shutdown: timeout_usec", usec))
        return setError(error, *bad);
    auto call = pending(m, u);
    ref(u).vm->lifecycle().shutdown(duration_cast<Duration>(microseconds(usec)),
                                    [call](Status s) { call.finish(s); });
    return 1;
}

// Hands a validated device to the Vm; the reply waits for the hotplug.
int attach(sd_bus_message* m, void* u, sd_bus_error* error, const char* method,
           Outcome<hypervisor::Device> device) {
    if (!device) return setError(error, device.error());
    if (auto denied =
            checkDevicePaths(m, method, device.value(), ref(u).registry->settings().storageDirs))
        return setError(error, *denied);
    auto call = pending(m, u);
    ref(u).vm->attachDevice(std::move(device.value()),
                            [call](Outcome<std::string> o) { call.finish(o); });
    return 1;
}

int methodAttachDisk(sd_bus_message* m, void* u, sd_bus_error* error) {
    const char* id = nullptr;
    const char* path = nullptr;
    int r = sd_bus_message_read(m, "ss", &id, &path);
    if (r < 0) return r;
    OptionDict options;
    if ((r = readOptionDict(m, options)) < 0) return r;
    return attach(m, u, error, "AttachDisk", validateAttachDisk(id, path, options));
}

int methodAttachNic(sd_bus_message* m, void* u, sd_bus_error* error) {
    const char* id = nullptr;
    int r = sd_bus_message_read(m, "s", &id);
    if (r < 0) return r;
    OptionDict options;
    if ((r = readOptionDict(m, options)) < 0) return r;
    return attach(m, u, error, "AttachNic", validateAttachNic(id, options));
}

int methodAttachDevice(sd_bus_message* m, void* u, sd_bus_error* error) {
    const char* kind = nullptr;
    const char* id = nullptr;
    int r = sd_bus_message_read(m, "ss", &kind, &id);
    if (r < 0) return r;
    OptionDict options;
    if ((r = readOptionDict(m, options)) < 0) return r;
    return attach(m, u, error, "AttachDevice", validateAttachDevice(kind, id, options));
}

int methodDetach(sd_bus_message* m, void* u, sd_bus_error* error) {
    const char* id = nullptr;
    int r = sd_bus_message_read(m, "s", &id);
    if (r < 0) return r;
    if (auto bad = checkDeviceIdArgument(id)) return setError(error, *bad);
    auto call = pending(m, u);
    ref(u).vm->detach(id, [call](Status s) { call.finish(s); });
    return 1;
}

int methodChangeMedia(sd_bus_message* m, void* u, sd_bus_error* error) {
    const char* id = nullptr;
    const char* path = nullptr;
    int r = sd_bus_message_read(m, "ss", &id, &path);
    if (r < 0) return r;
    if (auto bad = checkChangeMediaArguments(id, path)) return setError(error, *bad);
    if (auto denied =
            checkHostPath(m, "ChangeMedia", path, ref(u).registry->settings().storageDirs))
        return setError(error, *denied);
    auto call = pending(m, u);
    ref(u).vm->changeMedia(id, path, [call](Status s) { call.finish(s); });
    return 1;
}

// An `as` argument: the command line of a guest command.
int readArgv(sd_bus_message* m, std::vector<std::string>& out) {
    char** argv = nullptr;
    int r = sd_bus_message_read_strv(m, &argv);
    if (r < 0) return r;
    for (char** a = argv; a && *a; ++a) {
        out.emplace_back(*a);
        free(*a);
    }
    free(argv);
    return r;
}

int methodGuestExecute(sd_bus_message* m, void* u, sd_bus_error* error) {
    std::vector<std::string> args;
    int r = readArgv(m, args);
    if (r < 0) return r;
    const char* input = nullptr;
    uint64_t usec = 0;
    if ((r = sd_bus_message_read(m, "st", &input, &usec)) < 0) return r;
    if (args.empty())
        return setError(error, {ErrorKind::InvalidArgument, "GuestExecute needs a command."});
    if (auto bad = checkTimeoutArgument("GuestExecute: timeout_usec", usec))
        return setError(error, *bad);
    auto timeout =
        usec == 0 ? milliseconds(seconds(60)) : duration_cast<milliseconds>(microseconds(usec));
    auto call = pending(m, u);
    ref(u).vm->guestExecute(std::move(args), input, timeout,
                            [call](Outcome<std::string> o) { call.finish(o); });
    return 1;
}

int methodGuestRun(sd_bus_message* m, void* u, sd_bus_error* error) {
    std::vector<std::string> args;
    int r = readArgv(m, args);
    if (r < 0) return r;
    const void* input = nullptr;
    size_t size = 0;
    if ((r = sd_bus_message_read_array(m, 'y', &input, &size)) < 0) return r;
    uint64_t usec = 0;
    if ((r = sd_bus_message_read(m, "t", &usec)) < 0) return r;
    if (args.empty())
        return setError(error, {ErrorKind::InvalidArgument, "GuestRun needs a command."});
    if (auto bad = checkTimeoutArgument("GuestRun: timeout_usec", usec))
        return setError(error, *bad);
    auto timeout =
        usec == 0 ? milliseconds(seconds(60)) : duration_cast<milliseconds>(microseconds(usec));
    auto call = pending(m, u);
    ref(u).vm->guestRun(
        std::move(args), std::string(static_cast<const char*>(input), size), timeout,
        [call](Outcome<agent::RunOutcome> o) {
            if (!o) return call.error(o.error());
            call.values([&](sd_bus_message* reply) {
                const auto& run = o.value();
                int r = sd_bus_message_append(reply, "u", static_cast<uint32_t>(run.exitStatus));
                if (r >= 0)
                    r = sd_bus_message_append_array(reply, 'y', run.out.data(), run.out.size());
                if (r >= 0)
                    r = sd_bus_message_append_array(reply, 'y', run.err.data(), run.err.size());
                return r;
            });
        });
    return 1;
}

int methodGuestListCommands(sd_bus_message* m, void* u, sd_bus_error*) {
    auto call = pending(m, u);
    ref(u).vm->guestListCommands([call](Outcome<std::vector<std::string>> o) { call.finish(o); });
    return 1;
}

int methodMonitor(sd_bus_message* m, void* u, sd_bus_error*) {
    const char* json = nullptr;
    int r = sd_bus_message_read(m, "s", &json);
    if (r < 0) return r;
    auto call = pending(m, u);
    ref(u).vm->monitor(json, [call](Outcome<std::string> o) { call.finish(o); });
    return 1;
}

constexpr auto kChange = SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE;
// Who may call is the D-Bus policy's business (org.corral1.conf): without this flag sd-bus
// itself refuses every caller without CAP_SYS_ADMIN, group `corral` included.
constexpr auto kMethod = SD_BUS_VTABLE_UNPRIVILEGED;

// Which properties each ChangedProperty bit stands for, in the order PropertiesChanged lists
// them. Every property flagged kChange in the vtable is named by some bit (tested).
constexpr ChangedName kChangedNames[] = {
    {kChangedState, "State"},
    {kChangedPid, "Pid"},
    {kChangedStartedAt, "StartedAt"},
    {kChangedAgent, "AgentConnected"},
    {kChangedMonitor, "MonitorState"},
    {kChangedLastExit, "LastExit"},
    {kChangedDefinition, "Machine"},
    {kChangedDefinition, "Vcpus"},
    {kChangedDefinition, "MemoryBytes"},
    {kChangedDefinition, "Uuid"},
    {kChangedDefinition, "Devices"},
    {kChangedDefinition, "Media"},
    {kChangedDefinition, "Display"},
    {kChangedDevices, "Devices"},
    {kChangedDevices, "Media"},
    {kChangedMigration, "MigrationState"},
    {kChangedMigration, "MigrationProgress"},
    {kChangedSaved, "HasSavedState"},
    {kChangedBackup, "BackupState"},
    {kChangedBackup, "BackupProgress"},
    {kChangedQemuGa, "QemuGaConnected"},
};

}  // namespace

int readVariantDict(
    sd_bus_message* m, std::size_t limit,
    const std::function<int(sd_bus_message* m, const char* key, const std::string& type)>& entry) {
    int r = sd_bus_message_enter_container(m, 'a', "{sv}");
    if (r < 0) return r;
    while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
        const char* key = nullptr;
        if ((r = sd_bus_message_read(m, "s", &key)) < 0) return r;
        const char* contents = nullptr;
        if ((r = sd_bus_message_peek_type(m, nullptr, &contents)) < 0) return r;
        if ((r = entry(m, key, contents ? contents : "")) < 0) return r;
        if (static_cast<std::size_t>(r) > limit) return 0;  // refused anyway; read no further
        if ((r = sd_bus_message_exit_container(m)) < 0) return r;
    }
    if (r < 0) return r;
    return sd_bus_message_exit_container(m);
}

int readOptionDict(sd_bus_message* m, OptionDict& out) {
    return readVariantDict(m, kMaxOptionEntries,
                           [&](sd_bus_message* m, const char* key, const std::string& type) {
                               OptionEntry entry;
                               entry.key = key;
                               entry.type = type;
                               int r = 0;
                               if (type == "s") {
                                   const char* value = nullptr;
                                   r = sd_bus_message_read(m, "v", "s", &value);
                                   if (r >= 0) entry.text = value;
                               } else if (type == "b") {
                                   int value = 0;
                                   r = sd_bus_message_read(m, "v", "b", &value);
                                   entry.flag = value != 0;
                               } else {
                                   r = sd_bus_message_skip(m, "v");
                               }
                               if (r < 0) return r;
                               out.push_back(std::move(entry));
                               return static_cast<int>(out.size());
                           });
}

std::span<const ChangedName> changedNames() {
    return kChangedNames;
}

std::vector<const char*> changedProperties(unsigned changed) {
    std::vector<const char*> names;
    for (const auto& row : kChangedNames) {
        if (!(changed & row.bit)) continue;
        if (std::find(names.begin(), names.end(), row.property) == names.end())
            names.push_back(row.property);
    }
    return names;
}

const sd_bus_vtable kInstanceVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Name", "s", property<getName>, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("State", "s", property<getState>, 0, kChange),
    SD_BUS_PROPERTY("Pid", "u", property<getPid>, 0, kChange),
    SD_BUS_PROPERTY("StartedAt", "t", property<getStartedAt>, 0, kChange),
    SD_BUS_PROPERTY("Machine", "s", property<getMachine>, 0, kChange),
    SD_BUS_PROPERTY("Vcpus", "u", property<getVcpus>, 0, kChange),
    SD_BUS_PROPERTY("MemoryBytes", "t", property<getMemoryBytes>, 0, kChange),
    SD_BUS_PROPERTY("Uuid", "s", property<getUuid>, 0, kChange),
    SD_BUS_PROPERTY("QmpSocket", "s", property<getQmpSocket>, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("SerialSocket", "s", property<getSerialSocket>, 0,
                    SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("AgentConnected", "b", property<getAgentConnected>, 0, kChange),
    SD_BUS_PROPERTY("QemuGaConnected", "b", property<getQemuGaConnected>, 0, kChange),
    SD_BUS_PROPERTY("MonitorState", "s", property<getMonitorState>, 0, kChange),
    SD_BUS_PROPERTY("Devices", "a(ssss)", property<getDevices>, 0, kChange),
    SD_BUS_PROPERTY("Media", "a(ss)", property<getMedia>, 0, kChange),
    SD_BUS_PROPERTY("LastExit", "s", property<getLastExit>, 0, kChange),
    SD_BUS_PROPERTY("Display", "a{sv}", getDisplayProperty, 0, kChange),
    SD_BUS_PROPERTY("MigrationState", "s", getMigrationState, 0, kChange),
    SD_BUS_PROPERTY("MigrationProgress", "a{st}", getMigrationProgress, 0, kChange),
    SD_BUS_PROPERTY("HasSavedState", "b", getHasSavedState, 0, kChange),
    SD_BUS_PROPERTY("BackupState", "s", getBackupState, 0, kChange),
    SD_BUS_PROPERTY("BackupProgress", "(tt)", getBackupProgress, 0, kChange),
    SD_BUS_METHOD_WITH_ARGS("Start", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, methodStart, kMethod),
    SD_BUS_METHOD_WITH_ARGS("StartWithOptions", SD_BUS_ARGS("a{sv}", options), SD_BUS_NO_RESULT,
                            methodStartWithOptions, kMethod),
    SD_BUS_METHOD_WITH_ARGS("Shutdown", SD_BUS_ARGS("t", timeout_usec), SD_BUS_NO_RESULT,
                            methodShutdown, kMethod),
    SD_BUS_METHOD_WITH_ARGS("Save", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, methodSave, kMethod),
    SD_BUS_METHOD_WITH_ARGS("Kill", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, methodKill, kMethod),
    SD_BUS_METHOD_WITH_ARGS("Reboot", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, methodReboot, kMethod),
    SD_BUS_METHOD_WITH_ARGS("Reset", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, methodReset, kMethod),
    SD_BUS_METHOD_WITH_ARGS("Pause", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, methodPause, kMethod),
    SD_BUS_METHOD_WITH_ARGS("Resume", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, methodResume, kMethod),
    SD_BUS_METHOD_WITH_ARGS("AttachDisk", SD_BUS_ARGS("s", id, "s", path, "a{sv}", options),
                            SD_BUS_RESULT("s", pci_address), methodAttachDisk, kMethod),
    SD_BUS_METHOD_WITH_ARGS("AttachNic", SD_BUS_ARGS("s", id, "a{sv}", options),
                            SD_BUS_RESULT("s", pci_address), methodAttachNic, kMethod),
    SD_BUS_METHOD_WITH_ARGS("AttachDevice", SD_BUS_ARGS("s", kind, "s", id, "a{sv}", options),
                            SD_BUS_RESULT("s", pci_address), methodAttachDevice, kMethod),
    SD_BUS_METHOD_WITH_ARGS("Detach", SD_BUS_ARGS("s", id), SD_BUS_NO_RESULT, methodDetach,
                            kMethod),
    SD_BUS_METHOD_WITH_ARGS(
        "AttachDeviceWithOptions",
        SD_BUS_ARGS("s", kind, "s", id, "a{sv}", device_options, "a{sv}", options),
        SD_BUS_RESULT("s", pci_address), methodAttachDeviceWithOptions, kMethod),
    SD_BUS_METHOD_WITH_ARGS("DetachWithOptions", SD_BUS_ARGS("s", id, "a{sv}", options),
                            SD_BUS_NO_RESULT, methodDetachWithOptions, kMethod),
    SD_BUS_METHOD_WITH_ARGS("ChangeMedia", SD_BUS_ARGS("s", id, "s", path), SD_BUS_NO_RESULT,
                            methodChangeMedia, kMethod),
    SD_BUS_METHOD_WITH_ARGS("ResizeDisk", SD_BUS_ARGS("s", id, "t", bytes), SD_BUS_NO_RESULT,
                            methodResizeDisk, kMethod),
    SD_BUS_METHOD_WITH_ARGS("SetDiskLimits", SD_BUS_ARGS("s", id, "a{sv}", limits),
                            SD_BUS_NO_RESULT, methodSetDiskLimits, kMethod),
    SD_BUS_METHOD_WITH_ARGS("GetDiskLimits", SD_BUS_ARGS("s", id), SD_BUS_RESULT("a{sv}", limits),
                            methodGetDiskLimits, kMethod),
    SD_BUS_METHOD_WITH_ARGS("Snapshot", SD_BUS_ARGS("s", name, "a{sv}", options), SD_BUS_NO_RESULT,
                            methodSnapshot, kMethod),
    SD_BUS_METHOD_WITH_ARGS("ListSnapshots", SD_BUS_NO_ARGS,
                            SD_BUS_RESULT("a(sta(sss))", snapshots), methodListSnapshots, kMethod),
    SD_BUS_METHOD_WITH_ARGS("RevertSnapshot", SD_BUS_ARGS("s", name, "a{sv}", options),
                            SD_BUS_NO_RESULT, methodRevertSnapshot, kMethod),
    SD_BUS_METHOD_WITH_ARGS("DeleteSnapshot", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT,
                            methodDeleteSnapshot, kMethod),
    SD_BUS_METHOD_WITH_ARGS("Backup", SD_BUS_ARGS("s", target, "a{sv}", options), SD_BUS_NO_RESULT,
                            methodBackup, kMethod),
    SD_BUS_METHOD_WITH_ARGS("CancelBackup", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, methodCancelBackup,
                            kMethod),
    SD_BUS_METHOD_WITH_ARGS("ListBackups", SD_BUS_NO_ARGS,
                            SD_BUS_RESULT("a(sstsa(ss))", checkpoints), methodListBackups, kMethod),
    SD_BUS_METHOD_WITH_ARGS("GuestExecute", SD_BUS_ARGS("as", argv, "s", input, "t", timeout_usec),
                            SD_BUS_RESULT("s", output), methodGuestExecute, kMethod),
    SD_BUS_METHOD_WITH_ARGS("GuestRun", SD_BUS_ARGS("as", argv, "ay", input, "t", timeout_usec),
                            SD_BUS_RESULT("u", exit_status, "ay", stdout, "ay", stderr),
                            methodGuestRun, kMethod),
    SD_BUS_METHOD_WITH_ARGS("GuestListCommands", SD_BUS_NO_ARGS, SD_BUS_RESULT("as", commands),
                            methodGuestListCommands, kMethod),
    SD_BUS_METHOD_WITH_ARGS("GuestInfo", SD_BUS_NO_ARGS,
                            SD_BUS_RESULT("s", os_id, "s", release, "s", codename, "as", addresses),
                            methodGuestInfo, kMethod),
    SD_BUS_METHOD_WITH_ARGS("Monitor", SD_BUS_ARGS("s", qmp_json), SD_BUS_RESULT("s", reply),
                            methodMonitor, kMethod),
    SD_BUS_METHOD_WITH_ARGS("Screenshot", SD_BUS_ARGS("s", path), SD_BUS_NO_RESULT,
                            methodScreenshot, kMethod),
    SD_BUS_METHOD_WITH_ARGS("GetDefinition", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", toml),
                            methodGetDefinition, kMethod),
    SD_BUS_METHOD_WITH_ARGS("Update", SD_BUS_ARGS("s", toml), SD_BUS_RESULT("as", pending),
                            methodUpdate, kMethod),
    SD_BUS_METHOD_WITH_ARGS("Undefine", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("as", removed),
                            methodUndefine, kMethod),
    SD_BUS_METHOD_WITH_ARGS("Migrate", SD_BUS_ARGS("s", destination, "a{sv}", options),
                            SD_BUS_NO_RESULT, methodMigrate, kMethod),
    SD_BUS_METHOD_WITH_ARGS("CancelMigration", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
                            methodCancelMigration, kMethod),
    SD_BUS_VTABLE_END};

}  // namespace corral::supervisor

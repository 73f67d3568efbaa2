// org.corral1.Instance: properties read the Vm, methods hand off to it and reply when done.
#include <cstdlib>
#include <string_view>

#include "supervisor/dbus_args.hpp"
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

int getProperty(sd_bus*, const char*, const char*, const char* property, sd_bus_message* reply,
                void* userdata, sd_bus_error*) {
    Vm& vm = *ref(userdata).vm;
    auto& life = vm.lifecycle();
    std::string_view p(property);
    if (p == "Name") return sd_bus_message_append(reply, "s", vm.name().c_str());
    if (p == "State") return sd_bus_message_append(reply, "s", toString(life.state()));
    if (p == "Pid") return sd_bus_message_append(reply, "u", static_cast<uint32_t>(life.pid()));
    if (p == "StartedAt") return sd_bus_message_append(reply, "t", life.startedAtUsec());
    if (p == "AgentConnected") return sd_bus_message_append(reply, "b", life.agentConnected());
    if (p == "MonitorState")
        return sd_bus_message_append(reply, "s", toString(life.monitorState()));
    if (p == "LastExit") return sd_bus_message_append(reply, "s", life.lastExit().c_str());
    auto info = vm.info();
    if (p == "Machine") return sd_bus_message_append(reply, "s", info.machine.c_str());
    if (p == "Vcpus") return sd_bus_message_append(reply, "u", info.vcpus);
    if (p == "MemoryBytes") return sd_bus_message_append(reply, "t", info.memoryBytes);
    if (p == "QmpSocket") return sd_bus_message_append(reply, "s", info.qmpSocket.c_str());
    if (p == "SerialSocket") return sd_bus_message_append(reply, "s", info.serialSocket.c_str());
    int r = sd_bus_message_open_container(reply, 'a', "(ssss)");
    for (const auto& d : vm.devices()) {
        if (r < 0) return r;
        r = sd_bus_message_append(reply, "(ssss)", d.id.c_str(), d.kind.c_str(), d.bus.c_str(),
                                  d.addr.c_str());
    }
    return r < 0 ? r : sd_bus_message_close_container(reply);
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

int methodShutdown(sd_bus_message* m, void* u, sd_bus_error*) {
    uint64_t usec = 0;
    int r = sd_bus_message_read(m, "t", &usec);
    if (r < 0) return r;
    auto call = pending(m, u);
    ref(u).vm->lifecycle().shutdown(duration_cast<Duration>(microseconds(usec)),
                                    [call](Status s) { call.finish(s); });
    return 1;
}

// Copies an a{sv} into plain entries for the validators in dbus_args: strings and booleans with
// their value, any other type by its signature only, so that the refusal can name it. Stops
// after kMaxOptionEntries + 1 entries, which the validators refuse whatever follows.
int readOptions(sd_bus_message* m, OptionDict& out) {
    int r = sd_bus_message_enter_container(m, 'a', "{sv}");
    if (r < 0) return r;
    while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
        const char* key = nullptr;
        if ((r = sd_bus_message_read(m, "s", &key)) < 0) return r;
        const char* contents = nullptr;
        if ((r = sd_bus_message_peek_type(m, nullptr, &contents)) < 0) return r;
        OptionEntry entry;
        entry.key = key;
        entry.type = contents ? contents : "";
        if (entry.type == "s") {
            const char* value = nullptr;
            r = sd_bus_message_read(m, "v", "s", &value);
            if (r >= 0) entry.text = value;
        } else if (entry.type == "b") {
            int value = 0;
            r = sd_bus_message_read(m, "v", "b", &value);
            entry.flag = value != 0;
        } else {
            r = sd_bus_message_skip(m, "v");
        }
        if (r < 0) return r;
        out.push_back(std::move(entry));
        if (out.size() > kMaxOptionEntries) return 0;  // refused anyway; read no further
        if ((r = sd_bus_message_exit_container(m)) < 0) return r;
    }
    if (r < 0) return r;
    return sd_bus_message_exit_container(m);
}

int methodAttachDisk(sd_bus_message* m, void* u, sd_bus_error* error) {
    const char* id = nullptr;
    const char* path = nullptr;
    int r = sd_bus_message_read(m, "ss", &id, &path);
    if (r < 0) return r;
    OptionDict options;
    if ((r = readOptions(m, options)) < 0) return r;
    auto disk = validateAttachDisk(id, path, options);
    if (!disk) return setError(error, disk.error());
    auto call = pending(m, u);
    auto& request = disk.value();
    ref(u).vm->attachDisk(std::move(request.id), std::move(request.path), request.readonly,
                          std::move(request.format),
                          [call](Outcome<std::string> o) { call.finish(o); });
    return 1;
}

int methodAttachNic(sd_bus_message* m, void* u, sd_bus_error* error) {
    const char* id = nullptr;
    int r = sd_bus_message_read(m, "s", &id);
    if (r < 0) return r;
    OptionDict options;
    if ((r = readOptions(m, options)) < 0) return r;
    auto nic = validateAttachNic(id, options);
    if (!nic) return setError(error, nic.error());
    auto call = pending(m, u);
    ref(u).vm->attachNic(id, std::move(nic.value()),
                         [call](Outcome<std::string> o) { call.finish(o); });
    return 1;
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

int methodGuestExecute(sd_bus_message* m, void* u, sd_bus_error* error) {
    char** argv = nullptr;
    int r = sd_bus_message_read_strv(m, &argv);
    if (r < 0) return r;
    std::vector<std::string> args;
    for (char** a = argv; a && *a; ++a) {
        args.emplace_back(*a);
        free(*a);
    }
    free(argv);
    const char* input = nullptr;
    uint64_t usec = 0;
    if ((r = sd_bus_message_read(m, "st", &input, &usec)) < 0) return r;
    if (args.empty())
        return setError(error, {ErrorKind::InvalidArgument, "GuestExecute needs a command."});
    auto timeout =
        usec == 0 ? milliseconds(seconds(60)) : duration_cast<milliseconds>(microseconds(usec));
    auto call = pending(m, u);
    ref(u).vm->guestExecute(std::move(args), input, timeout,
                            [call](Outcome<std::string> o) { call.finish(o); });
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

}  // namespace

const sd_bus_vtable kInstanceVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Name", "s", getProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("State", "s", getProperty, 0, kChange),
    SD_BUS_PROPERTY("Pid", "u", getProperty, 0, kChange),
    SD_BUS_PROPERTY("StartedAt", "t", getProperty, 0, kChange),
    SD_BUS_PROPERTY("Machine", "s", getProperty, 0, kChange),
    SD_BUS_PROPERTY("Vcpus", "u", getProperty, 0, kChange),
    SD_BUS_PROPERTY("MemoryBytes", "t", getProperty, 0, kChange),
    SD_BUS_PROPERTY("QmpSocket", "s", getProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("SerialSocket", "s", getProperty, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("AgentConnected", "b", getProperty, 0, kChange),
    SD_BUS_PROPERTY("MonitorState", "s", getProperty, 0, kChange),
    SD_BUS_PROPERTY("Devices", "a(ssss)", getProperty, 0, kChange),
    SD_BUS_PROPERTY("LastExit", "s", getProperty, 0, kChange),
    SD_BUS_METHOD_WITH_ARGS("Start", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, methodStart, kMethod),
    SD_BUS_METHOD_WITH_ARGS("Shutdown", SD_BUS_ARGS("t", timeout_usec), SD_BUS_NO_RESULT,
                            methodShutdown, kMethod),
    SD_BUS_METHOD_WITH_ARGS("Kill", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, methodKill, kMethod),
    SD_BUS_METHOD_WITH_ARGS("Reboot", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, methodReboot, kMethod),
    SD_BUS_METHOD_WITH_ARGS("Reset", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, methodReset, kMethod),
    SD_BUS_METHOD_WITH_ARGS("Pause", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, methodPause, kMethod),
    SD_BUS_METHOD_WITH_ARGS("Resume", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, methodResume, kMethod),
    SD_BUS_METHOD_WITH_ARGS("AttachDisk", SD_BUS_ARGS("s", id, "s", path, "a{sv}", options),
                            SD_BUS_RESULT("s", pci_address), methodAttachDisk, kMethod),
    SD_BUS_METHOD_WITH_ARGS("AttachNic", SD_BUS_ARGS("s", id, "a{sv}", options),
                            SD_BUS_RESULT("s", pci_address), methodAttachNic, kMethod),
    SD_BUS_METHOD_WITH_ARGS("Detach", SD_BUS_ARGS("s", id), SD_BUS_NO_RESULT, methodDetach,
                            kMethod),
    SD_BUS_METHOD_WITH_ARGS("GuestExecute", SD_BUS_ARGS("as", argv, "s", input, "t", timeout_usec),
                            SD_BUS_RESULT("s", output), methodGuestExecute, kMethod),
    SD_BUS_METHOD_WITH_ARGS("GuestListCommands", SD_BUS_NO_ARGS, SD_BUS_RESULT("as", commands),
                            methodGuestListCommands, kMethod),
    SD_BUS_METHOD_WITH_ARGS("GuestInfo", SD_BUS_NO_ARGS,
                            SD_BUS_RESULT("s", os_id, "s", release, "s", codename, "as", addresses),
                            methodGuestInfo, kMethod),
    SD_BUS_METHOD_WITH_ARGS("Monitor", SD_BUS_ARGS("s", qmp_json), SD_BUS_RESULT("s", reply),
                            methodMonitor, kMethod),
    SD_BUS_VTABLE_END};

}  // namespace corral::supervisor

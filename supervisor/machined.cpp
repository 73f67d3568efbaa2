#include "supervisor/machined.hpp"

#include <net/if.h>

#include <algorithm>
#include <cstring>
#include <memory>

namespace corral::supervisor {

namespace {

constexpr const char* kMachined = "org.freedesktop.machine1";
constexpr const char* kMachinedPath = "/org/freedesktop/machine1";
constexpr const char* kMachinedManager = "org.freedesktop.machine1.Manager";

// One call in flight: what it was about and what to do with the reply.
struct Call {
    MachineIdentity machine;
    LogSink log;
    std::function<void(Call&, sd_bus_message*, const sd_bus_error*)> onReply;
};

int dispatch(sd_bus_message* reply, void* userdata, sd_bus_error*) {
    auto* call = static_cast<Call*>(userdata);
    call->onReply(*call, reply, sd_bus_message_get_error(reply));
    return 0;
}

void destroyCall(void* userdata) {
    delete static_cast<Call*>(userdata);
}

std::string describe(const sd_bus_error* error) {
    return error->message ? error->message : error->name;
}

bool machinedMissing(const sd_bus_error* error) {
    return sd_bus_error_has_names(error, "org.freedesktop.DBus.Error.ServiceUnknown",
                                  "org.freedesktop.DBus.Error.NameHasNoOwner",
                                  "org.freedesktop.DBus.Error.UnknownMethod") > 0;
}

// Sends `m` (consumed) with `call` as the reply's context; false (and logged) if it cannot.
bool send(sd_bus* bus, sd_bus_message* m, int r, std::unique_ptr<Call> call,
          const std::string& what) {
    sd_bus_slot* slot = nullptr;
    if (r >= 0) r = sd_bus_call_async(bus, &slot, m, dispatch, call.get(), 0);
    sd_bus_message_unref(m);
    if (r < 0) {
        call->log(4, "cannot ask systemd-machined to " + what + ": " + std::strerror(-r));
        return false;
    }
    // The slot owns the call from now on and lives until the reply (or the bus) is gone.
    sd_bus_slot_set_destroy_callback(slot, destroyCall);
    sd_bus_slot_set_floating(slot, 1);
    sd_bus_slot_unref(slot);
    call.release();
    return true;
}

std::string leaderText(const MachineIdentity& machine) {
    return "qemu pid " + std::to_string(machine.leader);
}

// After MachineExists: is the machine of that name the one whose leader is our qemu?
void checkExisting(Call& call, sd_bus_message* reply, const sd_bus_error* error) {
    const auto& name = call.machine.name;
    char* ours = nullptr;
    const char* path = nullptr;
    bool same = !error && sd_bus_message_read(reply, "o", &path) >= 0 &&
                sd_bus_path_encode("/org/freedesktop/machine1/machine", name.c_str(), &ours) >= 0 &&
                std::strcmp(path, ours) == 0;
    free(ours);
    if (same)
        call.log(6, name + ": already registered with systemd-machined (" +
                        leaderText(call.machine) + ")");
    else
        call.log(4, name + ": systemd-machined already has a machine of that name that is not " +
                        leaderText(call.machine) + "; not registered");
}

// The reply to RegisterMachine, MachineExists aside.
void registered(Call& call, const sd_bus_error* error) {
    const auto& name = call.machine.name;
    if (!error) {
        call.log(6, name + ": registered with systemd-machined (" + leaderText(call.machine) +
                        ", " + std::to_string(call.machine.ifindices.size()) + " interfaces)");
        return;
    }
    if (machinedMissing(error)) {
        call.log(5, name + ": systemd-machined is not available (" + describe(error) +
                        "); not registered");
        return;
    }
    call.log(4, name + ": systemd-machined refused to register it: " + describe(error));
}

}  // namespace

MachineIdentity identifyMachine(const std::string& name, pid_t leader,
                                const std::vector<std::string>& argv,
                                const std::vector<hypervisor::Device>& devices) {
    MachineIdentity machine;
    machine.name = name;
    machine.leader = leader;
    auto flag = std::find(argv.begin(), argv.end(), "-uuid");
    std::optional<hypervisor::UuidBytes> uuid;
    if (flag != argv.end() && flag + 1 != argv.end()) uuid = hypervisor::parseUuid(*(flag + 1));
    // A qemu started before corral passed -uuid: the UUID its definition would get now.
    machine.uuid = uuid ? *uuid : *hypervisor::parseUuid(hypervisor::derivedUuid(name));
    for (const auto& device : devices) {
        if (device.kindName() != "nic" || device.backend.empty()) continue;
        if (unsigned index = if_nametoindex(device.backend.c_str()))
            machine.ifindices.push_back(static_cast<int>(index));
    }
    return machine;
}

Machined::Machined(sd_bus* bus, std::function<void()> kick, LogSink log)
    : bus_(bus), kick_(std::move(kick)), log_(std::move(log)) {}

void Machined::add(const MachineIdentity& machine) {
    bool network = !machine.ifindices.empty();
    sd_bus_message* m = nullptr;
    int r =
        sd_bus_message_new_method_call(bus_, &m, kMachined, kMachinedPath, kMachinedManager,
                                       network ? "RegisterMachineWithNetwork" : "RegisterMachine");
    if (r >= 0) r = sd_bus_message_append(m, "s", machine.name.c_str());
    if (r >= 0) r = sd_bus_message_append_array(m, 'y', machine.uuid.data(), machine.uuid.size());
    if (r >= 0)
        r = sd_bus_message_append(m, "ssus", "corral", "vm", static_cast<uint32_t>(machine.leader),
                                  "");
    if (r >= 0 && network)
        r = sd_bus_message_append_array(m, 'i', machine.ifindices.data(),
                                        machine.ifindices.size() * sizeof(int));
    auto call = std::make_unique<Call>(Call{machine, log_, {}});
    // Already there (corrald restarted while the VM ran): ask whose it is.
    call->onReply = [bus = bus_, kick = kick_](Call& c, sd_bus_message*,
                                               const sd_bus_error* error) {
        if (!error || !sd_bus_error_has_name(error, "org.freedesktop.machine1.MachineExists"))
            return registered(c, error);
        sd_bus_message* q = nullptr;
        int rq = sd_bus_message_new_method_call(bus, &q, kMachined, kMachinedPath, kMachinedManager,
                                                "GetMachineByPID");
        if (rq >= 0) rq = sd_bus_message_append(q, "u", static_cast<uint32_t>(c.machine.leader));
        auto check = std::make_unique<Call>(Call{c.machine, c.log, checkExisting});
        if (send(bus, q, rq, std::move(check), "look " + c.machine.name + " up")) kick();
    };
    if (send(bus_, m, r, std::move(call), "register " + machine.name)) kick_();
}

void Machined::remove(const std::string& name) {
    sd_bus_message* m = nullptr;
    int r = sd_bus_message_new_method_call(bus_, &m, kMachined, kMachinedPath, kMachinedManager,
                                           "UnregisterMachine");
    if (r >= 0) r = sd_bus_message_append(m, "s", name.c_str());
    MachineIdentity machine;
    machine.name = name;
    auto call = std::make_unique<Call>(Call{machine, log_, {}});
    call->onReply = [](Call& c, sd_bus_message*, const sd_bus_error* error) {
        if (!error)
            c.log(6, c.machine.name + ": unregistered from systemd-machined");
        else if (sd_bus_error_has_name(error, "org.freedesktop.machine1.NoSuchMachine"))
            c.log(6, c.machine.name + ": systemd-machined had already dropped it with its scope");
        else if (!machinedMissing(error))
            c.log(5,
                  c.machine.name + ": cannot unregister from systemd-machined: " + describe(error));
    };
    if (send(bus_, m, r, std::move(call), "unregister " + name)) kick_();
}

}  // namespace corral::supervisor

// org.corral1.Manager, the ObjectManager, and the wiring that keeps instance objects and their
// PropertiesChanged signals in step with the registry.
#include "supervisor/dbus_service.hpp"

#include <cstring>
#include <map>
#include <stdexcept>

#include "hypervisor/instance_name.hpp"
#include "supervisor/dbus_internal.hpp"
#include "supervisor/dbus_reply.hpp"

namespace corral::supervisor {

namespace {

void check(int r, const char* what) {
    if (r < 0) throw std::runtime_error(std::string(what) + ": " + std::strerror(-r));
}

}  // namespace

std::string instancePath(const std::string& name) {
    char* path = nullptr;
    if (sd_bus_path_encode(kInstancePrefix, name.c_str(), &path) < 0) throw std::bad_alloc();
    std::string out(path);
    free(path);
    return out;
}

struct DbusService::Callbacks {
    static DbusService& self(void* userdata) { return *static_cast<DbusService*>(userdata); }

    static int find(sd_bus*, const char* path, const char*, void* userdata, void** found,
                    sd_bus_error*) {
        char* name = nullptr;
        if (sd_bus_path_decode(path, kInstancePrefix, &name) <= 0) return 0;
        std::string n(name);
        free(name);
        auto& mine = self(userdata).refs_;
        auto it = mine.find(n);
        if (it == mine.end()) return 0;
        *found = it->second.get();
        return 1;
    }

    static int enumerate(sd_bus*, const char*, void* userdata, char*** nodes, sd_bus_error*) {
        auto vms = self(userdata).registry_.all();
        auto** list = static_cast<char**>(calloc(vms.size() + 1, sizeof(char*)));
        if (!list) return -ENOMEM;
        for (std::size_t i = 0; i < vms.size(); ++i)
            list[i] = strdup(instancePath(vms[i]->name()).c_str());
        *nodes = list;
        return 1;
    }

    static int listInstances(sd_bus_message* m, void* userdata, sd_bus_error*) {
        sd_bus_message* reply = nullptr;
        int r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0) return r;
        sd_bus_message_open_container(reply, 'a', "(ssuo)");
        for (Vm* vm : self(userdata).registry_.all()) {
            auto& life = vm->lifecycle();
            sd_bus_message_append(reply, "(ssuo)", vm->name().c_str(), toString(life.state()),
                                  static_cast<uint32_t>(life.pid()),
                                  instancePath(vm->name()).c_str());
        }
        sd_bus_message_close_container(reply);
        r = sd_bus_message_send(reply);
        sd_bus_message_unref(reply);
        return r;
    }

    static int getInstance(sd_bus_message* m, void* userdata, sd_bus_error* error) {
        const char* name = nullptr;
        int r = sd_bus_message_read(m, "s", &name);
        if (r < 0) return r;
        if (auto why = hypervisor::checkInstanceName(name))
            return setError(error, {ErrorKind::InvalidArgument,
                                    "Bad instance name '" + std::string(name) + "': " + *why});
        if (!self(userdata).registry_.find(name))
            return setError(
                error, {ErrorKind::NoSuchInstance,
                        std::string("No instance named ") + name + "; add " +
                            (self(userdata).registry_.directory() / (std::string(name) + ".toml"))
                                .string() +
                            " and call Reload."});
        return sd_bus_reply_method_return(m, "o", instancePath(name).c_str());
    }

    static int reload(sd_bus_message* m, void* userdata, sd_bus_error*) {
        self(userdata).registry_.reload();
        return sd_bus_reply_method_return(m, "");
    }

    static int getProperty(sd_bus*, const char*, const char*, const char* property,
                           sd_bus_message* reply, void* userdata, sd_bus_error*) {
        if (std::strcmp(property, "Version") == 0)
            return sd_bus_message_append(reply, "s", CORRAL_VERSION);
        return sd_bus_message_append(reply, "s", self(userdata).runtimeDirectory_.c_str());
    }
};

// Who may call is the D-Bus policy's business (org.corral1.conf), not sd-bus's root-only default.
constexpr auto kMethod = SD_BUS_VTABLE_UNPRIVILEGED;

const sd_bus_vtable kManagerVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Version", "s", DbusService::Callbacks::getProperty, 0,
                    SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("RuntimeDirectory", "s", DbusService::Callbacks::getProperty, 0,
                    SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_METHOD_WITH_ARGS("ListInstances", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ssuo)", instances),
                            DbusService::Callbacks::listInstances, kMethod),
    SD_BUS_METHOD_WITH_ARGS("GetInstance", SD_BUS_ARGS("s", name), SD_BUS_RESULT("o", path),
                            DbusService::Callbacks::getInstance, kMethod),
    SD_BUS_METHOD_WITH_ARGS("Reload", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
                            DbusService::Callbacks::reload, kMethod),
    SD_BUS_SIGNAL_WITH_ARGS("InstanceNew", SD_BUS_ARGS("s", name, "o", path), 0),
    SD_BUS_SIGNAL_WITH_ARGS("InstanceRemoved", SD_BUS_ARGS("s", name, "o", path), 0),
    SD_BUS_VTABLE_END};

DbusService::DbusService(std::shared_ptr<BusLoop> loop, Registry& registry,
                         std::filesystem::path runtimeDirectory)
    : loop_(std::move(loop)), registry_(registry), runtimeDirectory_(std::move(runtimeDirectory)) {
    sd_bus* bus = loop_->bus();
    check(sd_bus_add_object_vtable(bus, &managerSlot_, kManagerPath, kManagerInterface,
                                   kManagerVtable, this),
          "cannot register the manager object");
    check(sd_bus_add_fallback_vtable(bus, &instanceSlot_, kInstancePrefix, kInstanceInterface,
                                     kInstanceVtable, Callbacks::find, this),
          "cannot register instance objects");
    check(sd_bus_add_node_enumerator(bus, &enumeratorSlot_, kInstancePrefix, Callbacks::enumerate,
                                     this),
          "cannot register the instance enumerator");
    check(sd_bus_add_object_manager(bus, &objectManagerSlot_, kManagerPath),
          "cannot register the object manager");
    for (Vm* vm : registry_.all()) watch(*vm);
    Registry::Listener listener;
    listener.added = [this](Vm& vm) {
        watch(vm);
        announce(vm);
    };
    listener.removed = [this](const std::string& name) { retract(name); };
    listener.redefined = [this](Vm& vm) {
        emitInstanceChanged(vm, kChangedState | kChangedLastExit | kChangedDefinition);
    };
    registry_.setListener(std::move(listener));
}

DbusService::~DbusService() {
    registry_.setListener({});
    for (Vm* vm : registry_.all()) {
        vm->lifecycle().setObserver(nullptr);
        vm->setDevicesObserver(nullptr);
    }
    sd_bus_slot_unref(objectManagerSlot_);
    sd_bus_slot_unref(enumeratorSlot_);
    sd_bus_slot_unref(instanceSlot_);
    sd_bus_slot_unref(managerSlot_);
    loop_->kick();
}

void DbusService::requestName() {
    check(sd_bus_request_name(loop_->bus(), kBusName, 0), "cannot own the name org.corral1");
}

void DbusService::watch(Vm& vm) {
    refs_[vm.name()] = std::make_unique<InstanceRef>(InstanceRef{this, &vm, loop_});
    vm.lifecycle().setObserver([this, &vm](unsigned changed) { emitInstanceChanged(vm, changed); });
    vm.setDevicesObserver([this, name = vm.name()] { emitDevicesChanged(name); });
}

void DbusService::emitInstanceChanged(Vm& vm, unsigned changed) {
    std::vector<const char*> names;
    if (changed & kChangedState) names.push_back("State");
    if (changed & kChangedPid) names.push_back("Pid");
    if (changed & kChangedStartedAt) names.push_back("StartedAt");
    if (changed & kChangedAgent) names.push_back("AgentConnected");
    if (changed & kChangedMonitor) names.push_back("MonitorState");
    if (changed & kChangedLastExit) names.push_back("LastExit");
    if (changed & kChangedDefinition) {
        for (const char* n : {"Machine", "Vcpus", "MemoryBytes", "Devices"}) names.push_back(n);
    }
    if (names.empty()) return;
    names.push_back(nullptr);
    sd_bus_emit_properties_changed_strv(loop_->bus(), instancePath(vm.name()).c_str(),
                                        kInstanceInterface, const_cast<char**>(names.data()));
    loop_->kick();
}

void DbusService::emitDevicesChanged(const std::string& name) {
    sd_bus_emit_properties_changed(loop_->bus(), instancePath(name).c_str(), kInstanceInterface,
                                   "Devices", nullptr);
    loop_->kick();
}

void DbusService::announce(Vm& vm) {
    auto path = instancePath(vm.name());
    sd_bus_emit_object_added(loop_->bus(), path.c_str());
    sd_bus_emit_signal(loop_->bus(), kManagerPath, kManagerInterface, "InstanceNew", "so",
                       vm.name().c_str(), path.c_str());
    loop_->kick();
}

void DbusService::retract(const std::string& name) {
    auto path = instancePath(name);
    // The object must still resolve while InterfacesRemoved is built; drop the ref afterwards.
    sd_bus_emit_object_removed(loop_->bus(), path.c_str());
    refs_.erase(name);
    sd_bus_emit_signal(loop_->bus(), kManagerPath, kManagerInterface, "InstanceRemoved", "so",
                       name.c_str(), path.c_str());
    loop_->kick();
}

}  // namespace corral::supervisor

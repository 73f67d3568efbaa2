// org.corral1.Manager, the ObjectManager, and the wiring that keeps instance objects and their
// PropertiesChanged signals in step with the registry.
#include "supervisor/dbus_service.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "hypervisor/instance_name.hpp"
#include "supervisor/dbus_internal.hpp"
#include "supervisor/dbus_reply.hpp"
#include "supervisor/migration_control.hpp"
#include "supervisor/stats_cache.hpp"

namespace corral::supervisor {

namespace {

void check(int r, const char* what) {
    if (r < 0) throw std::runtime_error(std::string(what) + ": " + std::strerror(-r));
}

void freeStrv(char** list) {
    for (char** p = list; p && *p; ++p) free(*p);
    free(list);
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
        int r = sd_bus_path_decode(path, kInstancePrefix, &name);
        if (r <= 0) return r;
        auto& refs = self(userdata).refs_;
        auto it = refs.find(std::string_view(name));
        free(name);
        if (it == refs.end()) return 0;
        *found = it->second.get();
        return 1;
    }

    // The Stats interface exists only once a cache serves it.
    static int findWithStats(sd_bus* bus, const char* path, const char* interface, void* userdata,
                             void** found, sd_bus_error* error) {
        if (!self(userdata).stats_) return 0;
        return find(bus, path, interface, userdata, found, error);
    }

    static int enumerate(sd_bus*, const char*, void* userdata, char*** nodes, sd_bus_error*) {
        auto& refs = self(userdata).refs_;
        auto** list = static_cast<char**>(calloc(refs.size() + 1, sizeof(char*)));
        if (!list) return -ENOMEM;
        std::size_t i = 0;
        for (const auto& [name, ref] : refs) {
            if (!(list[i++] = strdup(ref->path.c_str()))) {
                freeStrv(list);
                return -ENOMEM;
            }
        }
        *nodes = list;
        return 1;
    }

    static int listInstances(sd_bus_message* m, void* userdata, sd_bus_error*) {
        MessageRef reply;
        int r = sd_bus_message_new_method_return(m, reply.put());
        if (r < 0) return r;
        if ((r = sd_bus_message_open_container(reply.get(), 'a', "(ssuo)")) < 0) return r;
        for (const auto& [name, ref] : self(userdata).refs_) {
            auto& life = ref->vm->lifecycle();
            r = sd_bus_message_append(reply.get(), "(ssuo)", name.c_str(), toString(life.state()),
                                      static_cast<uint32_t>(life.pid()), ref->path.c_str());
            if (r < 0) return r;
        }
        if ((r = sd_bus_message_close_container(reply.get())) < 0) return r;
        return sd_bus_send(nullptr, reply.get(), nullptr);
    }

    static int getInstance(sd_bus_message* m, void* userdata, sd_bus_error* error) {
        const char* name = nullptr;
        int r = sd_bus_message_read(m, "s", &name);
        if (r < 0) return r;
        if (auto why = hypervisor::checkInstanceName(name))
            return setError(error, {ErrorKind::InvalidArgument,
                                    "Bad instance name '" + std::string(name) + "': " + *why});
        auto& service = self(userdata);
        auto it = service.refs_.find(std::string_view(name));
        if (it == service.refs_.end())
            return setError(
                error,
                {ErrorKind::NoSuchInstance,
                 std::string("No instance named ") + name + "; add " +
                     (service.registry_.directory() / (std::string(name) + ".toml")).string() +
                     " and call Reload."});
        return sd_bus_reply_method_return(m, "o", it->second->path.c_str());
    }

    static int define(sd_bus_message* m, void* userdata, sd_bus_error* error) {
        return methodDefine(m, self(userdata).registry_, error);
    }

    static int reload(sd_bus_message* m, void* userdata, sd_bus_error*) {
        self(userdata).registry_.reload();
        return sd_bus_reply_method_return(m, "");
    }

    static int prepareIncoming(sd_bus_message* m, void* userdata, sd_bus_error* error) {
        return methodPrepareIncoming(m, self(userdata).migrationTarget_, self(userdata).loop_,
                                     error);
    }
    static int finishIncoming(sd_bus_message* m, void* userdata, sd_bus_error* error) {
        return methodFinishIncoming(m, self(userdata).migrationTarget_, self(userdata).loop_,
                                    error);
    }
    static int abortIncoming(sd_bus_message* m, void* userdata, sd_bus_error* error) {
        return methodAbortIncoming(m, self(userdata).migrationTarget_, self(userdata).loop_, error);
    }
    static int incomingState(sd_bus_message* m, void* userdata, sd_bus_error* error) {
        return methodIncomingState(m, self(userdata).migrationTarget_, error);
    }
    static int recoverIncoming(sd_bus_message* m, void* userdata, sd_bus_error* error) {
        return methodRecoverIncoming(m, self(userdata).migrationTarget_, self(userdata).loop_,
                                     error);
    }

    static int getVersion(sd_bus*, const char*, const char*, const char*, sd_bus_message* reply,
                          void*, sd_bus_error*) {
        return sd_bus_message_append(reply, "s", CORRAL_VERSION);
    }

    static int getRuntimeDirectory(sd_bus*, const char*, const char*, const char*,
                                   sd_bus_message* reply, void* userdata, sd_bus_error*) {
        return sd_bus_message_append(reply, "s", self(userdata).runtimeDirectory_.c_str());
    }

    static int getIgnoredFiles(sd_bus*, const char*, const char*, const char*,
                               sd_bus_message* reply, void* userdata, sd_bus_error*) {
        int r = sd_bus_message_open_container(reply, 'a', "(ss)");
        for (const auto& ignored : self(userdata).registry_.ignoredFiles()) {
            if (r < 0) return r;
            r = sd_bus_message_append(reply, "(ss)", ignored.file.c_str(), ignored.reason.c_str());
        }
        return r < 0 ? r : sd_bus_message_close_container(reply);
    }
};

// Who may call is the D-Bus policy's business (org.corral1.conf), not sd-bus's root-only default.
constexpr auto kMethod = SD_BUS_VTABLE_UNPRIVILEGED;

const sd_bus_vtable kManagerVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Version", "s", DbusService::Callbacks::getVersion, 0,
                    SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("RuntimeDirectory", "s", DbusService::Callbacks::getRuntimeDirectory, 0,
                    SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("IgnoredFiles", "a(ss)", DbusService::Callbacks::getIgnoredFiles, 0,
                    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_METHOD_WITH_ARGS("ListInstances", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ssuo)", instances),
                            DbusService::Callbacks::listInstances, kMethod),
    SD_BUS_METHOD_WITH_ARGS("GetInstance", SD_BUS_ARGS("s", name), SD_BUS_RESULT("o", path),
                            DbusService::Callbacks::getInstance, kMethod),
    SD_BUS_METHOD_WITH_ARGS("Reload", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
                            DbusService::Callbacks::reload, kMethod),
    SD_BUS_METHOD_WITH_ARGS("Define", SD_BUS_ARGS("s", name, "s", toml, "a{sv}", options),
                            SD_BUS_RESULT("o", path), DbusService::Callbacks::define, kMethod),
    SD_BUS_METHOD_WITH_ARGS(
        "PrepareIncoming", SD_BUS_ARGS("s", name, "s", toml, "s", devices, "a{sv}", options),
        SD_BUS_RESULT("s", uri), DbusService::Callbacks::prepareIncoming, kMethod),
    SD_BUS_METHOD_WITH_ARGS("FinishIncoming", SD_BUS_ARGS("s", name, "a{sv}", options),
                            SD_BUS_NO_RESULT, DbusService::Callbacks::finishIncoming, kMethod),
    SD_BUS_METHOD_WITH_ARGS("AbortIncoming", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT,
                            DbusService::Callbacks::abortIncoming, kMethod),
    SD_BUS_METHOD_WITH_ARGS("IncomingState", SD_BUS_ARGS("s", name), SD_BUS_RESULT("s", state),
                            DbusService::Callbacks::incomingState, kMethod),
    SD_BUS_METHOD_WITH_ARGS("RecoverIncoming", SD_BUS_ARGS("s", name, "a{sv}", options),
                            SD_BUS_RESULT("s", uri), DbusService::Callbacks::recoverIncoming,
                            kMethod),
    SD_BUS_SIGNAL_WITH_ARGS("InstanceNew", SD_BUS_ARGS("s", name, "o", path), 0),
    SD_BUS_SIGNAL_WITH_ARGS("InstanceRemoved", SD_BUS_ARGS("s", name, "o", path), 0),
    SD_BUS_VTABLE_END};

DbusService::DbusService(std::shared_ptr<BusLoop> loop, Registry& registry,
                         std::filesystem::path runtimeDirectory, LogSink log)
    : loop_(std::move(loop)),
      registry_(registry),
      runtimeDirectory_(std::move(runtimeDirectory)),
      log_(std::move(log)) {
    // Everything the objects need exists before the first callback can ask for it.
    for (Vm* vm : registry_.all()) watch(*vm);
    registryConnections_.push_back(registry_.added().connect([this](Vm& vm) { publish(vm); }));
    registryConnections_.push_back(
        registry_.removing().connect([this](Vm& vm) { retract(vm.name()); }));
    registryConnections_.push_back(registry_.redefined().connect([this](Vm& vm) {
        if (auto it = refs_.find(vm.name()); it != refs_.end())
            emitChanged(*it->second, kChangedState | kChangedLastExit | kChangedDefinition);
    }));
    registryConnections_.push_back(registry_.ignoredChanged().connect([this] {
        warnIfFailed(sd_bus_emit_properties_changed(loop_->bus(), kManagerPath, kManagerInterface,
                                                    "IgnoredFiles", nullptr),
                     "PropertiesChanged", "IgnoredFiles");
        loop_->kick();
    }));

    sd_bus* bus = loop_->bus();
    check(sd_bus_add_object_vtable(bus, managerSlot_.put(), kManagerPath, kManagerInterface,
                                   kManagerVtable, this),
          "cannot register the manager object");
    check(sd_bus_add_fallback_vtable(bus, instanceSlot_.put(), kInstancePrefix, kInstanceInterface,
                                     kInstanceVtable, Callbacks::find, this),
          "cannot register instance objects");
    check(sd_bus_add_node_enumerator(bus, enumeratorSlot_.put(), kInstancePrefix,
                                     Callbacks::enumerate, this),
          "cannot register the instance enumerator");
    check(sd_bus_add_object_manager(bus, objectManagerSlot_.put(), kManagerPath),
          "cannot register the object manager");
}

DbusService::~DbusService() = default;

void DbusService::requestName() {
    check(sd_bus_request_name(loop_->bus(), kBusName, 0), "cannot own the name org.corral1");
}

void DbusService::serveStats(StatsCache& cache) {
    stats_ = &cache;
    for (auto& [name, ref] : refs_) ref->stats = stats_;
    check(sd_bus_add_fallback_vtable(loop_->bus(), statsSlot_.put(), kInstancePrefix,
                                     kStatsInterface, kStatsVtable, Callbacks::findWithStats, this),
          "cannot register the Stats interface");
    statsSampled_ = cache.sampled().connect([this](const std::string& name) {
        auto it = refs_.find(name);
        if (it == refs_.end()) return;
        warnIfFailed(sd_bus_emit_properties_changed_strv(loop_->bus(), it->second->path.c_str(),
                                                         kStatsInterface,
                                                         const_cast<char**>(kStatsProperties)),
                     "PropertiesChanged", name);
        loop_->kick();
    });
}

void DbusService::serveMigration(MigrationControl& source, IncomingControl& target) {
    migrationSource_ = &source;
    migrationTarget_ = &target;
    for (auto& [name, ref] : refs_) ref->migration = migrationSource_;
    migrationChanged_ = source.changed().connect([this](const std::string& name) {
        if (auto it = refs_.find(name); it != refs_.end())
            emitChanged(*it->second, kChangedMigration);
    });
}

InstanceRef& DbusService::watch(Vm& vm) {
    auto ref = std::make_unique<InstanceRef>(InstanceRef{
        &vm, &registry_, stats_, loop_, instancePath(vm.name()), {}, {}, migrationSource_});
    auto& r = *ref;
    r.stateChanged =
        vm.lifecycle().changed().connect([this, &r](unsigned changed) { emitChanged(r, changed); });
    r.devicesChanged = vm.devicesChanged().connect([this, &r] { emitChanged(r, kChangedDevices); });
    refs_[vm.name()] = std::move(ref);
    return r;
}

void DbusService::publish(Vm& vm) {
    auto& ref = watch(vm);
    sd_bus* bus = loop_->bus();
    warnIfFailed(sd_bus_emit_object_added(bus, ref.path.c_str()), "InterfacesAdded", vm.name());
    warnIfFailed(sd_bus_emit_signal(bus, kManagerPath, kManagerInterface, "InstanceNew", "so",
                                    vm.name().c_str(), ref.path.c_str()),
                 "InstanceNew", vm.name());
    loop_->kick();
}

void DbusService::retract(const std::string& name) {
    auto it = refs_.find(name);
    if (it == refs_.end()) return;
    auto path = it->second->path;
    sd_bus* bus = loop_->bus();
    // The object must still resolve while InterfacesRemoved is built; drop the ref afterwards.
    warnIfFailed(sd_bus_emit_object_removed(bus, path.c_str()), "InterfacesRemoved", name);
    refs_.erase(it);
    warnIfFailed(sd_bus_emit_signal(bus, kManagerPath, kManagerInterface, "InstanceRemoved", "so",
                                    name.c_str(), path.c_str()),
                 "InstanceRemoved", name);
    loop_->kick();
}

void DbusService::emitChanged(const InstanceRef& ref, unsigned changed) {
    auto names = changedProperties(changed);
    if (names.empty()) return;
    names.push_back(nullptr);
    warnIfFailed(
        sd_bus_emit_properties_changed_strv(loop_->bus(), ref.path.c_str(), kInstanceInterface,
                                            const_cast<char**>(names.data())),
        "PropertiesChanged", ref.vm->name());
    loop_->kick();
}

void DbusService::warnIfFailed(int r, const char* signal, const std::string& name) const {
    if (r < 0 && log_) log_(4, name + ": cannot emit " + signal + ": " + std::strerror(-r));
}

}  // namespace corral::supervisor

// The D-Bus face of live migration: Manager.PrepareIncoming / FinishIncoming / AbortIncoming (the
// destination, root only: they define an instance), Instance.Migrate / CancelMigration /
// StartWithOptions and the MigrationState / MigrationProgress properties. Arguments are copied
// into plain types and checked by migration_options.cpp; the work is MigrationControl's and
// IncomingControl's.
#include "hypervisor/instance_name.hpp"
#include "supervisor/dbus_caller.hpp"
#include "supervisor/dbus_internal.hpp"
#include "supervisor/dbus_reply.hpp"
#include "supervisor/migration_control.hpp"

namespace corral::supervisor {

namespace {

InstanceRef& ref(void* userdata) {
    return *static_cast<InstanceRef*>(userdata);
}

// Copies an a{sv} with strings, booleans and uint64 values; others by their type only.
int readOptions(sd_bus_message* m, MigrationOptionList& out) {
    return readVariantDict(m, kMaxOptionEntries,
                           [&](sd_bus_message* m, const char* key, const std::string& type) {
                               MigrationOption option;
                               option.key = key;
                               option.type = type;
                               int r = 0;
                               if (type == "s") {
                                   const char* value = nullptr;
                                   r = sd_bus_message_read(m, "v", "s", &value);
                                   if (r >= 0) option.text = value;
                               } else if (type == "b") {
                                   int value = 0;
                                   r = sd_bus_message_read(m, "v", "b", &value);
                                   option.flag = value != 0;
                               } else if (type == "t") {
                                   r = sd_bus_message_read(m, "v", "t", &option.number);
                               } else {
                                   r = sd_bus_message_skip(m, "v");
                               }
                               if (r < 0) return r;
                               out.push_back(std::move(option));
                               return static_cast<int>(out.size());
                           });
}

std::optional<OpError> tooMany(const MigrationOptionList& options, const char* method) {
    if (options.size() <= kMaxOptionEntries) return std::nullopt;
    return OpError{ErrorKind::InvalidArgument, std::string(method) + ": more than " +
                                                   std::to_string(kMaxOptionEntries) + " options."};
}

std::optional<OpError> noTarget(IncomingControl* target) {
    if (target) return std::nullopt;
    return OpError{ErrorKind::Failed, "This corrald takes no incoming migrations."};
}

std::optional<OpError> checkName(const char* method, const char* name) {
    if (auto why = hypervisor::checkInstanceName(name))
        return OpError{ErrorKind::InvalidArgument,
                       std::string(method) + ": bad instance name '" + name + "': " + *why};
    return std::nullopt;
}

}  // namespace

int methodPrepareIncoming(sd_bus_message* m, IncomingControl* target,
                          const std::shared_ptr<BusLoop>& loop, sd_bus_error* error) {
    if (auto denied = checkCaller(m, "PrepareIncoming", Access::Root))
        return setError(error, *denied);
    const char *name = nullptr, *toml = nullptr, *devices = nullptr;
    int r = sd_bus_message_read(m, "sss", &name, &toml, &devices);
    if (r < 0) return r;
    MigrationOptionList options;
    if ((r = readOptions(m, options)) < 0) return r;
    if (auto bad = tooMany(options, "PrepareIncoming")) return setError(error, *bad);
    auto incoming = validateIncomingOptions(options);
    if (!incoming) return setError(error, incoming.error());
    if (auto bad = noTarget(target)) return setError(error, *bad);
    if (auto bad = checkName("PrepareIncoming", name)) return setError(error, *bad);
    PendingCall call(loop, m);
    target->prepare(name, toml, devices, incoming.value(),
                    [call](Outcome<std::string> uri) { call.finish(uri); });
    return 1;
}

int methodFinishIncoming(sd_bus_message* m, IncomingControl* target,
                         const std::shared_ptr<BusLoop>& loop, sd_bus_error* error) {
    if (auto denied = checkCaller(m, "FinishIncoming", Access::Root))
        return setError(error, *denied);
    const char* name = nullptr;
    int r = sd_bus_message_read(m, "s", &name);
    if (r < 0) return r;
    MigrationOptionList options;
    if ((r = readOptions(m, options)) < 0) return r;
    if (auto bad = tooMany(options, "FinishIncoming")) return setError(error, *bad);
    auto resume = validateFinishOptions(options);
    if (!resume) return setError(error, resume.error());
    if (auto bad = noTarget(target)) return setError(error, *bad);
    if (auto bad = checkName("FinishIncoming", name)) return setError(error, *bad);
    PendingCall call(loop, m);
    target->finish(name, resume.value(), [call](Status s) { call.finish(s); });
    return 1;
}

int methodAbortIncoming(sd_bus_message* m, IncomingControl* target,
                        const std::shared_ptr<BusLoop>& loop, sd_bus_error* error) {
    if (auto denied = checkCaller(m, "AbortIncoming", Access::Root))
        return setError(error, *denied);
    const char* name = nullptr;
    int r = sd_bus_message_read(m, "s", &name);
    if (r < 0) return r;
    if (auto bad = noTarget(target)) return setError(error, *bad);
    if (auto bad = checkName("AbortIncoming", name)) return setError(error, *bad);
    PendingCall call(loop, m);
    target->abort(name, [call](Status s) { call.finish(s); });
    return 1;
}

int methodIncomingState(sd_bus_message* m, IncomingControl* target, sd_bus_error* error) {
    if (auto denied = checkCaller(m, "IncomingState", Access::Root))
        return setError(error, *denied);
    const char* name = nullptr;
    int r = sd_bus_message_read(m, "s", &name);
    if (r < 0) return r;
    if (auto bad = noTarget(target)) return setError(error, *bad);
    if (auto bad = checkName("IncomingState", name)) return setError(error, *bad);
    return sd_bus_reply_method_return(m, "s", target->incomingState(name).c_str());
}

int methodRecoverIncoming(sd_bus_message* m, IncomingControl* target,
                          const std::shared_ptr<BusLoop>& loop, sd_bus_error* error) {
    if (auto denied = checkCaller(m, "RecoverIncoming", Access::Root))
        return setError(error, *denied);
    const char* name = nullptr;
    int r = sd_bus_message_read(m, "s", &name);
    if (r < 0) return r;
    MigrationOptionList options;
    if ((r = readOptions(m, options)) < 0) return r;
    if (auto bad = tooMany(options, "RecoverIncoming")) return setError(error, *bad);
    if (auto checked = validateRecoverOptions(options); !checked)
        return setError(error, checked.error());
    if (auto bad = noTarget(target)) return setError(error, *bad);
    if (auto bad = checkName("RecoverIncoming", name)) return setError(error, *bad);
    PendingCall call(loop, m);
    target->recover(name, [call](Outcome<std::string> uri) { call.finish(uri); });
    return 1;
}

int methodMigrate(sd_bus_message* m, void* u, sd_bus_error* error) {
    const char* destination = nullptr;
    int r = sd_bus_message_read(m, "s", &destination);
    if (r < 0) return r;
    MigrationOptionList list;
    if ((r = readOptions(m, list)) < 0) return r;
    if (auto bad = tooMany(list, "Migrate")) return setError(error, *bad);
    auto options = validateMigrateOptions(list);
    if (!options) return setError(error, options.error());
    if (auto bad = checkDestination(destination)) return setError(error, *bad);
    auto& instance = ref(u);
    if (!instance.migration)
        return setError(error, {ErrorKind::Failed, "This corrald does not migrate VMs."});
    PendingCall call(instance.loop, m);
    instance.migration->migrate(*instance.vm, destination, options.value(),
                                [call](Status s) { call.finish(s); });
    return 1;
}

int methodCancelMigration(sd_bus_message* m, void* u, sd_bus_error* error) {
    auto& instance = ref(u);
    if (!instance.migration)
        return setError(error, {ErrorKind::InvalidState, instance.vm->name() + " is not being "
                                                                               "migrated."});
    auto status = instance.migration->cancel(*instance.vm);
    if (!status) return setError(error, status.error());
    return sd_bus_reply_method_return(m, "");
}

int methodStartWithOptions(sd_bus_message* m, void* u, sd_bus_error* error) {
    OptionDict options;
    int r = readOptionDict(m, options);
    if (r < 0) return r;
    auto flags = validateFlags("StartWithOptions", options, {"force", "discard_saved"});
    if (!flags) return setError(error, flags.error());
    auto& instance = ref(u);
    bool force = flags.value().count("force") && flags.value()["force"];
    bool discard = flags.value().count("discard_saved") && flags.value()["discard_saved"];
    auto& life = instance.vm->lifecycle();
    bool startable = life.state() == State::Stopped || life.state() == State::Crashed;
    if (force && startable && !life.migratedTo().empty()) instance.vm->clearMigrated();
    if (discard && startable) instance.vm->discardSavedState();
    PendingCall call(instance.loop, m);
    life.start([call](Status s) { call.finish(s); });
    return 1;
}

int getMigrationState(sd_bus*, const char*, const char*, const char*, sd_bus_message* reply,
                      void* userdata, sd_bus_error*) {
    auto& instance = ref(userdata);
    auto status =
        instance.migration ? instance.migration->status(instance.vm->name()) : MigrationStatus{};
    return sd_bus_message_append(reply, "s", status.state.c_str());
}

int getMigrationProgress(sd_bus*, const char*, const char*, const char*, sd_bus_message* reply,
                         void* userdata, sd_bus_error*) {
    auto& instance = ref(userdata);
    auto status =
        instance.migration ? instance.migration->status(instance.vm->name()) : MigrationStatus{};
    const auto& p = status.progress;
    return sd_bus_message_append(
        reply, "a{st}", 9, "transferred", p.transferred, "remaining", p.remaining, "total", p.total,
        "dirty_rate", p.dirtyRate, "expected_downtime_ms", p.expectedDowntimeMs, "downtime_ms",
        p.downtimeMs, "total_time_ms", p.totalTimeMs, "storage_transferred", p.storageTransferred,
        "storage_total", p.storageTotal);
}

}  // namespace corral::supervisor

// Instance.AttachDeviceWithOptions and DetachWithOptions: the Attach/Detach of a running VM, and
// with option `persist` also the device table in the instance's definition file (persist_toml),
// written as Update writes it (Registry::update: checked by the loader, temp file + fsync +
// rename). The file is changed first and put back when the live step fails, so a definition
// corrald cannot rewrite refuses the call before the VM is touched.
#include <algorithm>

#include "supervisor/dbus_caller.hpp"
#include "supervisor/dbus_internal.hpp"
#include "supervisor/dbus_reply.hpp"
#include "supervisor/definition_check.hpp"
#include "supervisor/persist_toml.hpp"
#include "supervisor/registry.hpp"

namespace corral::supervisor {

namespace {

InstanceRef& ref(void* userdata) {
    return *static_cast<InstanceRef*>(userdata);
}

// Whether the VM has no qemu, so that persist changes the definition only.
bool stopped(Vm& vm) {
    auto state = vm.lifecycle().state();
    return state == State::Stopped || state == State::Crashed;
}

// The definition as it was, written back after the live step failed; `why` tells the caller.
OpError restore(Registry& registry, const std::string& name, const std::string& text, OpError why) {
    auto* vm = registry.find(name);
    auto restored = vm ? registry.update(*vm, text) : Outcome<std::vector<std::string>>(why);
    if (vm && !restored)
        why.message += "; and the definition could not be put back: " + restored.error().message;
    return why;
}

bool defines(const hypervisor::InstanceSpec& spec, std::string_view id) {
    return std::any_of(spec.devices.begin(), spec.devices.end(),
                       [&](const hypervisor::Device& d) { return d.id == id; });
}

OpError cannotEdit(const std::filesystem::path& file, std::string_view id) {
    return {ErrorKind::Failed, "cannot change the table of " + std::string(id) + " in " +
                                   file.string() + " without touching the rest; edit the file " +
                                   "and call Update"};
}

Outcome<bool> persistFlag(sd_bus_message* m, const char* method, const OptionDict& options) {
    auto flags = validateFlags(method, options, {"persist"});
    if (!flags) return flags.error();
    bool persist = flags.value().count("persist") && flags.value()["persist"];
    if (!persist) return false;
    std::string what = std::string(method) + " with persist";
    if (auto denied = checkCaller(m, what, Access::Root)) return *denied;
    return true;
}

}  // namespace

int methodAttachDeviceWithOptions(sd_bus_message* m, void* u, sd_bus_error* error) {
    const char* kind = nullptr;
    const char* id = nullptr;
    int r = sd_bus_message_read(m, "ss", &kind, &id);
    if (r < 0) return r;
    OptionDict deviceOptions;
    OptionDict options;
    if ((r = readOptionDict(m, deviceOptions)) < 0) return r;
    if ((r = readOptionDict(m, options)) < 0) return r;
    auto device = validateAttachDevice(kind, id, deviceOptions);
    if (!device) return setError(error, device.error());
    auto persist = persistFlag(m, "AttachDeviceWithOptions", options);
    if (!persist) return setError(error, persist.error());
    auto& instance = ref(u);
    if (auto denied = checkDevicePaths(m, "AttachDeviceWithOptions", device.value(),
                                       instance.registry->settings().storageDirs))
        return setError(error, *denied);
    PendingCall call(instance.loop, m);
    auto& vm = *instance.vm;
    if (!persist.value()) {
        vm.attachDevice(std::move(device.value()),
                        [call](Outcome<std::string> o) { call.finish(o); });
        return 1;
    }
    bool live = !stopped(vm);
    if (auto busy = vm.lifecycle().checkUsable(); live && busy) return setError(error, *busy);
    auto before = instance.registry->definitionText(vm);
    if (!before) return setError(error, before.error());
    auto after = withDeviceTable(before.value(), device.value());
    auto file = instance.registry->fileOf(vm.name());
    // A file the appended table does not simply extend (an inline `disk = [...]` array) fails
    // the loader here, before anything is written.
    auto check = checkDefinition(vm.name(), after, file);
    if (!check) return setError(error, check.error());
    if (!defines(check.value(), device.value().id))
        return setError(error, cannotEdit(file, device.value().id));
    auto written = instance.registry->update(vm, after);
    if (!written) return setError(error, written.error());
    if (!live) {
        call.string("");
        return 1;
    }
    vm.attachDevice(std::move(device.value()),
                    [call, registry = instance.registry, name = vm.name(),
                     text = std::move(before.value())](Outcome<std::string> o) {
                        if (!o) return call.error(restore(*registry, name, text, o.error()));
                        call.finish(o);
                    });
    return 1;
}

int methodDetachWithOptions(sd_bus_message* m, void* u, sd_bus_error* error) {
    const char* id = nullptr;
    int r = sd_bus_message_read(m, "s", &id);
    if (r < 0) return r;
    OptionDict options;
    if ((r = readOptionDict(m, options)) < 0) return r;
    if (auto bad = checkDeviceIdArgument(id)) return setError(error, *bad);
    auto persist = persistFlag(m, "DetachWithOptions", options);
    if (!persist) return setError(error, persist.error());
    auto& instance = ref(u);
    auto& vm = *instance.vm;
    PendingCall call(instance.loop, m);
    if (!persist.value()) {
        vm.detach(id, [call](Status s) { call.finish(s); });
        return 1;
    }
    auto before = instance.registry->definitionText(vm);
    if (!before) return setError(error, before.error());
    auto file = instance.registry->fileOf(vm.name());
    auto spec = checkDefinition(vm.name(), before.value(), file);
    if (!spec) return setError(error, spec.error());
    const auto& devices = spec.value().devices;
    auto defined = std::find_if(devices.begin(), devices.end(),
                                [&](const hypervisor::Device& d) { return d.id == id; });
    if (defined == devices.end())
        return setError(
            error, OpError{ErrorKind::InvalidArgument,
                           std::string("DetachWithOptions: ") + id + " is not in " + file.string() +
                               "; without persist, Detach removes a device "
                               "attached to the running VM"});
    auto after = withoutDeviceTable(before.value(), *defined->kind, id);
    if (!after)
        return setError(
            error, OpError{ErrorKind::Failed,
                           std::string("cannot find the [[") + std::string(defined->kindName()) +
                               "]] table of " + id + " in " + file.string() + "; edit the file"});
    // Only a device the running qemu has as hotplugged is detached live; a boot-time one stays
    // until the VM stops (qemu cannot unplug it), the definition is without it from now on.
    auto running = vm.devices();
    bool live = !stopped(vm) && std::any_of(running.begin(), running.end(), [&](const auto& d) {
        return d.id == id && d.hotplugged;
    });
    if (auto busy = vm.lifecycle().checkUsable(); live && busy) return setError(error, *busy);
    auto check = checkDefinition(vm.name(), *after, file);
    if (!check) return setError(error, check.error());
    if (defines(check.value(), id) || check.value().devices.size() + 1 != devices.size())
        return setError(error, cannotEdit(file, id));
    auto written = instance.registry->update(vm, *after);
    if (!written) return setError(error, written.error());
    if (!live) {
        call.empty();
        return 1;
    }
    vm.detach(id, [call, registry = instance.registry, name = vm.name(),
                   text = std::move(before.value())](Status s) {
        if (!s) return call.error(restore(*registry, name, text, s.error()));
        call.empty();
    });
    return 1;
}

}  // namespace corral::supervisor

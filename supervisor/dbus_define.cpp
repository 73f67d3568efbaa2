// Manager.Define and Instance.Update, Undefine, GetDefinition: the caller's credentials checked
// by corrald itself (the bus policy lets group corral call every method), the arguments read
// into plain types, the decision left to the Registry.
#include <memory>
#include <optional>

#include "supervisor/dbus_caller.hpp"
#include "supervisor/dbus_internal.hpp"
#include "supervisor/dbus_reply.hpp"

namespace corral::supervisor {

namespace {

InstanceRef& ref(void* userdata) {
    return *static_cast<InstanceRef*>(userdata);
}

int replyStrings(sd_bus_message* m, const std::vector<std::string>& values) {
    MessageRef reply;
    int r = sd_bus_message_new_method_return(m, reply.put());
    if (r < 0) return r;
    if ((r = sd_bus_message_open_container(reply.get(), 'a', "s")) < 0) return r;
    for (const auto& value : values)
        if ((r = sd_bus_message_append(reply.get(), "s", value.c_str())) < 0) return r;
    if ((r = sd_bus_message_close_container(reply.get())) < 0) return r;
    return sd_bus_send(nullptr, reply.get(), nullptr);
}

}  // namespace

int methodDefine(sd_bus_message* m, Registry& registry, sd_bus_error* error) {
    if (auto denied = checkCaller(m, "Define", Access::Root)) return setError(error, *denied);
    const char* name = nullptr;
    const char* text = nullptr;
    int r = sd_bus_message_read(m, "ss", &name, &text);
    if (r < 0) return r;
    OptionDict options;
    if ((r = readOptionDict(m, options)) < 0) return r;
    if (auto flags = validateFlags("Define", options, {}); !flags)
        return setError(error, flags.error());
    auto vm = registry.define(name, text);
    if (!vm) return setError(error, vm.error());
    return sd_bus_reply_method_return(m, "o", instancePath(vm.value()->name()).c_str());
}

int methodUpdate(sd_bus_message* m, void* userdata, sd_bus_error* error) {
    if (auto denied = checkCaller(m, "Update", Access::Root)) return setError(error, *denied);
    const char* text = nullptr;
    int r = sd_bus_message_read(m, "s", &text);
    if (r < 0) return r;
    auto& instance = ref(userdata);
    auto pending = instance.registry->update(*instance.vm, text);
    if (!pending) return setError(error, pending.error());
    return replyStrings(m, pending.value());
}

int methodUndefine(sd_bus_message* m, void* userdata, sd_bus_error* error) {
    if (auto denied = checkCaller(m, "Undefine", Access::Root)) return setError(error, *denied);
    OptionDict options;
    int r = readOptionDict(m, options);
    if (r < 0) return r;
    auto flags = validateFlags("Undefine", options, {"remove_storage"});
    if (!flags) return setError(error, flags.error());
    bool removeStorage = flags.value().count("remove_storage") && flags.value()["remove_storage"];
    // The object and its userdata are gone once this returns: `m` alone carries the reply.
    auto& instance = ref(userdata);
    auto removed = instance.registry->undefine(*instance.vm, removeStorage);
    if (!removed) return setError(error, removed.error());
    return replyStrings(m, removed.value());
}

int methodGetDefinition(sd_bus_message* m, void* userdata, sd_bus_error* error) {
    if (auto denied = checkCaller(m, "GetDefinition", Access::RootOrGroup))
        return setError(error, *denied);
    auto& instance = ref(userdata);
    auto text = instance.registry->definitionText(*instance.vm);
    if (!text) return setError(error, text.error());
    return sd_bus_reply_method_return(m, "s", text.value().c_str());
}

}  // namespace corral::supervisor

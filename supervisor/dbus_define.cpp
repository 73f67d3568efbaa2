// Manager.Define and Instance.Update, Undefine, GetDefinition: the caller's credentials checked
// by corrald itself (the bus policy lets group corral call every method), the arguments read
// into plain types, the decision left to the Registry.
#include <grp.h>
#include <unistd.h>

#include <memory>
#include <optional>

#include "supervisor/dbus_internal.hpp"
#include "supervisor/dbus_reply.hpp"

namespace corral::supervisor {

namespace {

// The group the bus policy (org.corral1.conf) lets call methods.
constexpr const char* kCorralGroup = "corral";

bool inGroup(sd_bus_creds* creds, gid_t group) {
    gid_t egid = 0;
    if (sd_bus_creds_get_egid(creds, &egid) >= 0 && egid == group) return true;
    const gid_t* gids = nullptr;
    int n = sd_bus_creds_get_supplementary_gids(creds, &gids);
    for (int i = 0; i < n; ++i)
        if (gids[i] == group) return true;
    return false;
}

std::optional<gid_t> corralGroup() {
    struct group entry {};
    struct group* found = nullptr;
    char buffer[4096];
    if (getgrnam_r(kCorralGroup, &entry, buffer, sizeof buffer, &found) != 0 || !found)
        return std::nullopt;
    return found->gr_gid;
}

}  // namespace

std::optional<OpError> checkCaller(sd_bus_message* m, const char* method, Access access) {
    sd_bus_creds* raw = nullptr;
    int r = sd_bus_query_sender_creds(m,
                                      SD_BUS_CREDS_EUID | SD_BUS_CREDS_EGID |
                                          SD_BUS_CREDS_SUPPLEMENTARY_GIDS | SD_BUS_CREDS_AUGMENT,
                                      &raw);
    std::unique_ptr<sd_bus_creds, sd_bus_creds* (*)(sd_bus_creds*)> creds(raw, sd_bus_creds_unref);
    uid_t euid = 0;
    if (r < 0 || sd_bus_creds_get_euid(raw, &euid) < 0) {
        return OpError{ErrorKind::PermissionDenied, std::string("Permission denied: ") + method +
                                                        " could not learn the caller's user id."};
    }
    if (euid == 0) return std::nullopt;
    if (access == Access::RootOrGroup) {
        if (auto group = corralGroup(); group && inGroup(raw, *group)) return std::nullopt;
    }
    return OpError{ErrorKind::PermissionDenied,
                   std::string("Permission denied: ") + method + " needs root" +
                       (access == Access::RootOrGroup ? " or group corral" : "") +
                       "; the caller runs as uid " + std::to_string(euid) + "."};
}

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

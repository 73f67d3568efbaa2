#include "supervisor/ctl_client.hpp"

#include <cstring>
#include <functional>

#include "supervisor/dbus_service.hpp"

namespace corral::supervisor::ctl {

namespace {

int exitFor(const char* errorName) {
    std::string name = errorName ? errorName : "";
    if (name == "org.corral1.Error.NoSuchInstance") return kNoSuchInstance;
    if (name == "org.corral1.Error.Busy") return kBusy;
    if (name == "org.corral1.Error.InvalidState") return kInvalidState;
    if (name == "org.corral1.Error.InvalidArgument") return kUsage;
    if (name == "org.freedesktop.DBus.Error.ServiceUnknown" ||
        name == "org.freedesktop.DBus.Error.NameHasNoOwner")
        return kUnreachable;
    return kFailed;
}

void check(int r, const char* what) {
    if (r < 0) throw CtlError(kFailed, std::string(what) + ": " + std::strerror(-r));
}

}  // namespace

Client::Client(Bus bus, const std::string& address) {
    int r = 0;
    if (bus == Bus::System) {
        r = sd_bus_open_system(&bus_);
    } else if (bus == Bus::Session) {
        r = sd_bus_open_user(&bus_);
    } else if ((r = sd_bus_new(&bus_)) >= 0 &&
               (r = sd_bus_set_address(bus_, address.c_str())) >= 0 &&
               (r = sd_bus_set_bus_client(bus_, 1)) >= 0) {
        r = sd_bus_start(bus_);
    }
    if (r < 0) {
        // A throwing constructor gets no destructor call: the half-set-up bus goes here.
        bus_ = sd_bus_unref(bus_);
        throw CtlError(kUnreachable, std::string("cannot connect to the D-Bus bus: ") +
                                         std::strerror(-r) +
                                         "; is dbus running? (or pass --address)");
    }
}

Client::~Client() {
    sd_bus_flush_close_unref(bus_);
}

sd_bus_message* Client::call(const std::string& path, const char* interface, const char* method,
                             std::uint64_t timeoutUsec,
                             const std::function<void(sd_bus_message*)>& append) {
    sd_bus_message* m = nullptr;
    check(sd_bus_message_new_method_call(bus_, &m, kBusName, path.c_str(), interface, method),
          "cannot build the call");
    if (append) append(m);
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message* reply = nullptr;
    int r = sd_bus_call(bus_, m, timeoutUsec, &error, &reply);
    sd_bus_message_unref(m);
    if (r < 0) {
        int code = exitFor(error.name);
        std::string text = error.message ? error.message : std::strerror(-r);
        if (code == kUnreachable)
            text = "corrald is not running on this bus (" + text +
                   "); start corrald.service or pass --address";
        sd_bus_error_free(&error);
        throw CtlError(code, text);
    }
    return reply;
}

std::vector<InstanceRow> Client::list() {
    auto* reply = call(kManagerPath, kManagerInterface, "ListInstances", 0, {});
    std::vector<InstanceRow> rows;
    check(sd_bus_message_enter_container(reply, 'a', "(ssuo)"), "bad reply");
    const char *name, *state, *path;
    std::uint32_t pid;
    while (sd_bus_message_read(reply, "(ssuo)", &name, &state, &pid, &path) > 0)
        rows.push_back({name, state, pid, path});
    sd_bus_message_unref(reply);
    return rows;
}

std::string Client::instancePath(const std::string& name) {
    auto* reply = call(kManagerPath, kManagerInterface, "GetInstance", 0,
                       [&](sd_bus_message* m) { sd_bus_message_append(m, "s", name.c_str()); });
    const char* path = nullptr;
    check(sd_bus_message_read(reply, "o", &path), "bad reply");
    std::string out = path;
    sd_bus_message_unref(reply);
    return out;
}

Properties Client::properties(const std::string& name) {
    auto path = instancePath(name);
    auto* reply = call(path, "org.freedesktop.DBus.Properties", "GetAll", 0, [](sd_bus_message* m) {
        sd_bus_message_append(m, "s", kInstanceInterface);
    });
    Properties out;
    check(sd_bus_message_enter_container(reply, 'a', "{sv}"), "bad reply");
    while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
        const char* key = nullptr;
        sd_bus_message_read(reply, "s", &key);
        const char* contents = nullptr;
        sd_bus_message_peek_type(reply, nullptr, &contents);
        std::string type = contents ? contents : "";
        sd_bus_message_enter_container(reply, 'v', contents);
        if (type == "s") {
            const char* v = nullptr;
            sd_bus_message_read(reply, "s", &v);
            out[key] = std::string(v);
        } else if (type == "u") {
            std::uint32_t v = 0;
            sd_bus_message_read(reply, "u", &v);
            out[key] = std::uint64_t{v};
        } else if (type == "t") {
            std::uint64_t v = 0;
            sd_bus_message_read(reply, "t", &v);
            out[key] = v;
        } else if (type == "b") {
            int v = 0;
            sd_bus_message_read(reply, "b", &v);
            out[key] = v != 0;
        } else if (type == "a(ssss)") {
            std::vector<std::vector<std::string>> rows;
            sd_bus_message_enter_container(reply, 'a', "(ssss)");
            const char *a, *b, *c, *d;
            while (sd_bus_message_read(reply, "(ssss)", &a, &b, &c, &d) > 0)
                rows.push_back({a, b, c, d});
            sd_bus_message_exit_container(reply);
            out[key] = rows;
        } else {
            sd_bus_message_skip(reply, contents);
        }
        sd_bus_message_exit_container(reply);
        sd_bus_message_exit_container(reply);
    }
    sd_bus_message_unref(reply);
    return out;
}

sd_bus_message* Client::callInstance(const std::string& name, const char* method,
                                     std::uint64_t timeoutUsec,
                                     const std::function<void(sd_bus_message*)>& append) {
    return call(instancePath(name), kInstanceInterface, method, timeoutUsec, append);
}

void Client::reload() {
    sd_bus_message_unref(call(kManagerPath, kManagerInterface, "Reload", 0, {}));
}

}  // namespace corral::supervisor::ctl

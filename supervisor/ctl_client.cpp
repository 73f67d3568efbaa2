#include "supervisor/ctl_client.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string_view>

#include "supervisor/dbus_service.hpp"
#include "supervisor/enum_names.hpp"

namespace corral::supervisor::ctl {

namespace {

// The exit code of each corral error a script may want to tell apart; the rest is kFailed.
constexpr std::pair<ErrorKind, int> kErrorExits[] = {
    {ErrorKind::NoSuchInstance, kNoSuchInstance},
    {ErrorKind::Busy, kBusy},
    {ErrorKind::InvalidState, kInvalidState},
    {ErrorKind::InvalidArgument, kUsage},
};

int exitFor(const char* errorName) {
    std::string_view name = errorName ? errorName : "";
    if (auto kind = parseErrorName(name)) {
        for (const auto& [k, code] : kErrorExits)
            if (k == *kind) return code;
        return kFailed;
    }
    if (name == "org.freedesktop.DBus.Error.ServiceUnknown" ||
        name == "org.freedesktop.DBus.Error.NameHasNoOwner")
        return kUnreachable;
    return kFailed;
}

// The value of one property, read from inside its variant.
int readValue(sd_bus_message* reply, const std::string& type, PropertyValue& out) {
    int r = 0;
    if (type == "s") {
        const char* v = nullptr;
        r = sd_bus_message_read(reply, "s", &v);
        if (r >= 0) out = std::string(v);
    } else if (type == "u") {
        std::uint32_t v = 0;
        r = sd_bus_message_read(reply, "u", &v);
        out = std::uint64_t{v};
    } else if (type == "t") {
        std::uint64_t v = 0;
        r = sd_bus_message_read(reply, "t", &v);
        out = v;
    } else if (type == "b") {
        int v = 0;
        r = sd_bus_message_read(reply, "b", &v);
        out = v != 0;
    } else if (type == "a(ssss)") {
        std::vector<std::vector<std::string>> rows;
        if ((r = sd_bus_message_enter_container(reply, 'a', "(ssss)")) < 0) return r;
        const char *a, *b, *c, *d;
        while ((r = sd_bus_message_read(reply, "(ssss)", &a, &b, &c, &d)) > 0)
            rows.push_back({a, b, c, d});
        if (r < 0 || (r = sd_bus_message_exit_container(reply)) < 0) return r;
        out = std::move(rows);
    }
    return r;
}

}  // namespace

void check(int r, const char* what) {
    if (r < 0) throw CtlError(kFailed, std::string(what) + ": " + std::strerror(-r));
}

std::vector<std::string> readStrings(const MessageRef& reply) {
    char** names = nullptr;
    check(sd_bus_message_read_strv(reply.get(), &names), "bad reply");
    std::vector<std::string> list;
    for (char** n = names; n && *n; ++n) {
        list.emplace_back(*n);
        free(*n);
    }
    free(names);
    return list;
}

Client::Client(Bus bus, const std::string& target) {
    int r = 0;
    if (bus == Bus::System) {
        r = sd_bus_open_system(&bus_);
    } else if (bus == Bus::Remote) {
        host_ = target;
        if ((r = sd_bus_open_system_remote(&bus_, target.c_str())) >= 0) {
            waitUntilReady(target);
            return;
        }
        bus_ = sd_bus_unref(bus_);
        throw CtlError(kUsage,
                       "cannot connect to " + target + ": " + std::strerror(-r) +
                           " (-H takes [user@]host[:port])",
                       false);
    } else if (bus == Bus::Session) {
        r = sd_bus_open_user(&bus_);
    } else if ((r = sd_bus_new(&bus_)) >= 0 &&
               (r = sd_bus_set_address(bus_, target.c_str())) >= 0 &&
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

// sd_bus_open_system_remote only starts ssh: wait, bounded, for the bus handshake to finish, so
// that a host that does not answer is one sentence after kRemoteConnectSeconds, not a hang.
void Client::waitUntilReady(const std::string& host) {
    auto fail = [&](const std::string& why) {
        // Closing the bus ends the ssh it started.
        bus_ = sd_bus_flush_close_unref(bus_);
        return CtlError(kUnreachable, "cannot reach the system bus of " + host + ": " + why);
    };
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kRemoteConnectSeconds);
    for (;;) {
        int r = sd_bus_is_ready(bus_);
        if (r > 0) return;
        if (r >= 0) r = sd_bus_process(bus_, nullptr);
        if (r < 0)
            throw fail(std::string(std::strerror(-r)) +
                       " (ssh or systemd-stdio-bridge on the far side failed; ssh says why above)");
        if (r > 0) continue;
        auto left = std::chrono::duration_cast<std::chrono::microseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            throw fail("no answer over ssh within " + std::to_string(kRemoteConnectSeconds) + " s");
        if ((r = sd_bus_wait(bus_, static_cast<std::uint64_t>(left.count()))) < 0)
            throw fail(std::strerror(-r));
    }
}

Client::~Client() {
    sd_bus_flush_close_unref(bus_);
}

MessageRef Client::call(const std::string& path, const char* interface, const char* method,
                        std::uint64_t timeoutUsec,
                        const std::function<int(sd_bus_message*)>& append) {
    MessageRef m;
    check(sd_bus_message_new_method_call(bus_, m.put(), kBusName, path.c_str(), interface, method),
          "cannot build the call");
    if (append) check(append(m.get()), "cannot build the call");
    sd_bus_error error = SD_BUS_ERROR_NULL;
    MessageRef reply;
    int r = sd_bus_call(bus_, m.get(), timeoutUsec, &error, reply.put());
    if (r < 0) {
        int code = exitFor(error.name);
        std::string text = error.message ? error.message : std::strerror(-r);
        if (error.name && std::string_view(error.name) == SD_BUS_ERROR_ACCESS_DENIED)
            // The bus policy's own text is a dump of the rule that matched.
            text = std::string("permission denied: ") + method +
                   " needs root or membership in group corral" +
                   (host_.empty() ? " (the bus refused uid " + std::to_string(geteuid()) + ")"
                                  : " on " + host_);
        else if (code == kUnreachable && !host_.empty())
            text = "corrald is not running on " + host_ + " (" + text + ")";
        else if (code == kUnreachable)
            text = "corrald is not running on this bus (" + text +
                   "); start corrald.service or pass --address";
        // corrald's sentence says what is wrong: no hint at the command line follows it.
        CtlError failure(code, text, false);
        if (error.name) failure.dbusError = error.name;
        sd_bus_error_free(&error);
        throw failure;
    }
    return reply;
}

std::vector<InstanceRow> Client::list() {
    auto reply = call(kManagerPath, kManagerInterface, "ListInstances", 0, {});
    std::vector<InstanceRow> rows;
    check(sd_bus_message_enter_container(reply.get(), 'a', "(ssuo)"), "bad reply");
    const char *name, *state, *path;
    std::uint32_t pid;
    int r;
    while ((r = sd_bus_message_read(reply.get(), "(ssuo)", &name, &state, &pid, &path)) > 0)
        rows.push_back({name, state, pid, path});
    check(r, "bad reply");
    return rows;
}

std::string Client::instancePath(const std::string& name) {
    auto reply = call(kManagerPath, kManagerInterface, "GetInstance", 0, [&](sd_bus_message* m) {
        return sd_bus_message_append(m, "s", name.c_str());
    });
    const char* path = nullptr;
    check(sd_bus_message_read(reply.get(), "o", &path), "bad reply");
    return path;
}

Properties Client::properties(const std::string& name) {
    auto path = instancePath(name);
    auto reply = call(path, "org.freedesktop.DBus.Properties", "GetAll", 0, [](sd_bus_message* m) {
        return sd_bus_message_append(m, "s", kInstanceInterface);
    });
    sd_bus_message* r = reply.get();
    Properties out;
    check(sd_bus_message_enter_container(r, 'a', "{sv}"), "bad reply");
    int more;
    while ((more = sd_bus_message_enter_container(r, 'e', "sv")) > 0) {
        const char* key = nullptr;
        check(sd_bus_message_read(r, "s", &key), "bad reply");
        const char* contents = nullptr;
        check(sd_bus_message_peek_type(r, nullptr, &contents), "bad reply");
        std::string type = contents ? contents : "";
        check(sd_bus_message_enter_container(r, 'v', contents), "bad reply");
        PropertyValue value;
        bool known = type == "s" || type == "u" || type == "t" || type == "b" || type == "a(ssss)";
        check(known ? readValue(r, type, value) : sd_bus_message_skip(r, contents), "bad reply");
        if (known) out[key] = std::move(value);
        check(sd_bus_message_exit_container(r), "bad reply");
        check(sd_bus_message_exit_container(r), "bad reply");
    }
    check(more, "bad reply");
    return out;
}

MessageRef Client::callInstance(const std::string& name, const char* method,
                                std::uint64_t timeoutUsec,
                                const std::function<int(sd_bus_message*)>& append) {
    return call(instancePath(name), kInstanceInterface, method, timeoutUsec, append);
}

MessageRef Client::callManager(const char* method, std::uint64_t timeoutUsec,
                               const std::function<int(sd_bus_message*)>& append) {
    return call(kManagerPath, kManagerInterface, method, timeoutUsec, append);
}

void Client::reload() {
    call(kManagerPath, kManagerInterface, "Reload", 0, {});
}

}  // namespace corral::supervisor::ctl

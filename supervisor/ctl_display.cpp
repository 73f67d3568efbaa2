#include "supervisor/ctl_display.hpp"

#include <cstdio>
#include <map>

#include "supervisor/ctl_attach.hpp"
#include "supervisor/ctl_output.hpp"
#include "supervisor/dbus_service.hpp"

namespace corral::supervisor::ctl {

namespace {

using Display = std::map<std::string, PropertyValue>;

Display readDisplay(Client& client, const std::string& name) {
    auto path = client.instancePath(name);
    sd_bus_error error = SD_BUS_ERROR_NULL;
    MessageRef reply;
    int r = sd_bus_get_property(client.bus(), kBusName, path.c_str(), kInstanceInterface, "Display",
                                &error, reply.put(), "a{sv}");
    std::string why = error.message ? error.message : "";
    sd_bus_error_free(&error);
    if (r < 0) throw CtlError(kFailed, "cannot read " + name + "'s Display: " + why, false);
    Display out;
    sd_bus_message* m = reply.get();
    check(sd_bus_message_enter_container(m, 'a', "{sv}"), "bad reply");
    while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
        const char* key = nullptr;
        const char* contents = nullptr;
        check(sd_bus_message_read(m, "s", &key), "bad reply");
        check(sd_bus_message_peek_type(m, nullptr, &contents), "bad reply");
        std::string type = contents ? contents : "";
        if (type == "s") {
            const char* text = nullptr;
            check(sd_bus_message_read(m, "v", "s", &text), "bad reply");
            out[key] = std::string(text);
        } else if (type == "u") {
            uint32_t value = 0;
            check(sd_bus_message_read(m, "v", "u", &value), "bad reply");
            out[key] = std::uint64_t(value);
        } else if (type == "b") {
            int value = 0;
            check(sd_bus_message_read(m, "v", "b", &value), "bad reply");
            out[key] = value != 0;
        } else {
            check(sd_bus_message_skip(m, "v"), "bad reply");
        }
        check(sd_bus_message_exit_container(m), "bad reply");
    }
    check(r, "bad reply");
    return out;
}

std::string text(const Display& d, const char* key) {
    auto it = d.find(key);
    auto* value = it == d.end() ? nullptr : std::get_if<std::string>(&it->second);
    return value ? *value : "";
}

std::uint64_t number(const Display& d, const char* key) {
    auto it = d.find(key);
    auto* value = it == d.end() ? nullptr : std::get_if<std::uint64_t>(&it->second);
    return value ? *value : 0;
}

bool flag(const Display& d, const char* key) {
    auto it = d.find(key);
    auto* value = it == d.end() ? nullptr : std::get_if<bool>(&it->second);
    return value && *value;
}

void printJson(const Display& d) {
    std::string out = "{";
    for (const auto& [key, value] : d) {
        out += (out.size() > 1 ? "," : "") + jsonQuote(key) + ":";
        if (auto* s = std::get_if<std::string>(&value))
            out += jsonQuote(*s);
        else if (auto* n = std::get_if<std::uint64_t>(&value))
            out += std::to_string(*n);
        else
            out += std::get<bool>(value) ? "true" : "false";
    }
    std::printf("%s}\n", out.c_str());
}

}  // namespace

int vncVerb(const Args& a) {
    Client client(a.bus, a.address);
    const auto& name = a.args[0];
    auto d = readDisplay(client, name);
    if (text(d, "type") != "vnc")
        throw CtlError(kInvalidState, name + " has no VNC display ([display] type is \"none\")",
                       false);
    if (a.json) {
        printJson(d);
        return kOk;
    }
    std::string where = a.bus == Client::Bus::Remote ? " on " + a.address : "";
    std::string auth = flag(d, "tls") ? "TLS (VeNCrypt)" : "no TLS";
    auth += flag(d, "password") ? ", password" : ", no password";
    if (text(d, "listen") == "unix") {
        auto socket = text(d, "socket");
        std::printf("%s: VNC on the unix socket %s%s (%s)\n", name.c_str(), socket.c_str(),
                    where.c_str(), auth.c_str());
        std::printf("  remote-viewer vnc+unix://%s\n", socket.c_str());
        std::printf("  gvncviewer %s\n", socket.c_str());
        std::printf("  from another host: ssh -L 5900:%s HOST, then vncviewer localhost:5900\n",
                    socket.c_str());
        return kOk;
    }
    auto listen = text(d, "listen");
    std::printf("%s: VNC at %s%s (%s)\n", name.c_str(), listen.c_str(), where.c_str(),
                auth.c_str());
    std::printf("  remote-viewer vnc://%s\n", listen.c_str());
    std::printf("  vncviewer %s\n", listen.c_str());
    if (auto ws = number(d, "websocket_port")) {
        auto address = text(d, "address");
        bool v6 = address.find(':') != std::string::npos;
        std::printf("  websocket (noVNC): ws%s://%s:%llu\n", flag(d, "tls") ? "s" : "",
                    (v6 ? "[" + address + "]" : address).c_str(),
                    static_cast<unsigned long long>(ws));
    }
    return kOk;
}

int screenshotVerb(const Args& a) {
    std::string path = a.args[1];
    if (a.bus == Client::Bus::Remote) {
        if (path.empty() || path.front() != '/')
            throw CtlError(kUsage,
                           "with -H the screenshot is written on " + a.address +
                               ": give an absolute path there, not '" + path + "'",
                           false);
    } else {
        path = resolveLocalPath(path, "the screenshot file");
    }
    Client client(a.bus, a.address);
    client.callInstance(a.args[0], "Screenshot", 60'000'000, [&](sd_bus_message* m) {
        return sd_bus_message_append(m, "s", path.c_str());
    });
    printValue("path", path, a.json);
    return kOk;
}

}  // namespace corral::supervisor::ctl

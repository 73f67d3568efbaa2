// Instance.Screenshot and the Display property: how to reach the VM's graphical console.
// Screenshot is for root only: qemu runs as root and writes the file wherever the path points,
// so a caller of group corral could otherwise overwrite any file of the host.
#include <filesystem>

#include "supervisor/dbus_caller.hpp"
#include "supervisor/dbus_internal.hpp"
#include "supervisor/dbus_reply.hpp"

namespace corral::supervisor {

namespace {

InstanceRef& ref(void* userdata) {
    return *static_cast<InstanceRef*>(userdata);
}

int appendString(sd_bus_message* m, const char* key, const std::string& value) {
    return sd_bus_message_append(m, "{sv}", key, "s", value.c_str());
}

int appendDisplay(sd_bus_message* m, const hypervisor::DisplaySpec& d,
                  const std::filesystem::path& runtimeDir) {
    int r = appendString(m, "type", std::string(hypervisor::kDisplayTypes.toString(d.type)));
    if (r >= 0) r = appendString(m, "vga", std::string(hypervisor::kVgaModels.toString(d.vga)));
    if (r < 0 || !d.vnc()) return r;
    if (d.unixListen()) {
        r = appendString(m, "listen", "unix");
        if (r >= 0) r = appendString(m, "socket", hypervisor::vncSocketPath(runtimeDir).string());
    } else {
        r = appendString(m, "listen", hypervisor::hostPort(d.address, d.port));
        if (r >= 0) r = appendString(m, "address", d.address);
        if (r >= 0) r = sd_bus_message_append(m, "{sv}", "port", "u", uint32_t(d.port));
        if (r >= 0 && d.websocketPort)
            r = sd_bus_message_append(m, "{sv}", "websocket_port", "u", uint32_t(d.websocketPort));
    }
    if (r >= 0) r = sd_bus_message_append(m, "{sv}", "password", "b", int(!d.passwordFile.empty()));
    if (r >= 0) r = sd_bus_message_append(m, "{sv}", "tls", "b", int(!d.tlsDir.empty()));
    return r;
}

}  // namespace

int getDisplayProperty(sd_bus*, const char*, const char*, const char*, sd_bus_message* reply,
                       void* userdata, sd_bus_error*) {
    Vm& vm = *ref(userdata).vm;
    int r = sd_bus_message_open_container(reply, 'a', "{sv}");
    if (r < 0) return r;
    if (const auto* spec = vm.activeSpec()) {
        auto runtimeDir = std::filesystem::path(vm.info().qmpSocket).parent_path();
        if ((r = appendDisplay(reply, spec->display, runtimeDir)) < 0) return r;
    }
    return sd_bus_message_close_container(reply);
}

int methodScreenshot(sd_bus_message* m, void* userdata, sd_bus_error* error) {
    const char* path = nullptr;
    int r = sd_bus_message_read(m, "s", &path);
    if (r < 0) return r;
    if (auto denied = checkCaller(m, "Screenshot", Access::Root)) return setError(error, *denied);
    if (auto bad = checkScreenshotPath(path)) return setError(error, *bad);
    auto call = PendingCall(ref(userdata).loop, m);
    ref(userdata).vm->screenshot(path, [call](Status s) { call.finish(s); });
    return 1;
}

}  // namespace corral::supervisor

#include "hypervisor/spec_loader_display.hpp"

namespace corral::hypervisor {

namespace {

// An absolute path given as a string; empty when absent or refused (reported).
std::filesystem::path absolutePath(TomlReader& l, const toml::table& t, std::string_view key) {
    auto* v = l.get<std::string>(t, key, "an absolute path");
    if (!v) return {};
    std::filesystem::path path(v->get());
    if (!path.is_absolute()) {
        l.error(v->source(),
                std::string(key) + ": expected an absolute path, got " + inQuotes(v->get()));
        return {};
    }
    return path;
}

void loadListen(TomlReader& l, const toml::table& t, DisplaySpec& d) {
    auto* v = l.get<std::string>(t, "listen", "\"unix\" or \"ADDRESS:PORT\"");
    if (!v || v->get() == "unix") return;
    if (auto why = parseVncListen(v->get(), d.address, d.port))
        l.error(v->source(), "listen: " + *why + ", got " + inQuotes(v->get()));
}

void loadWebsocket(TomlReader& l, const toml::table& t, DisplaySpec& d) {
    const toml::node* node = t.get("websocket");
    if (!node) return;
    l.integer(t, "websocket", 1, 65535, d.websocketPort);
    if (d.websocketPort && d.unixListen()) {
        l.error(node->source(),
                "websocket: a websocket port needs listen = \"ADDRESS:PORT\"; with listen = "
                "\"unix\" there is no TCP address to serve it on");
        d.websocketPort = 0;
    } else if (d.websocketPort && d.websocketPort == d.port) {
        l.error(node->source(), "websocket: port " + std::to_string(d.port) +
                                    " is the VNC port itself; choose another");
        d.websocketPort = 0;
    }
}

}  // namespace

void loadDisplay(TomlReader& l, const toml::table& t, DisplaySpec& d) {
    l.checkKeys(
        t, {"type", "listen", "password_file", "tls_dir", "tls_verify_peer", "websocket", "vga"},
        "[display]");
    if (auto type = l.choice(t, "type", kDisplayTypes)) d.type = *type;
    d.vga = d.vnc() ? VgaModel::Std : VgaModel::None;
    if (auto vga = l.choice(t, "vga", kVgaModels)) d.vga = *vga;
    bool vncOnly = false;
    for (const char* key : {"listen", "password_file", "tls_dir", "tls_verify_peer", "websocket"}) {
        const toml::node* node = t.get(key);
        if (node && !d.vnc()) {
            l.error(node->source(), std::string(key) + ": only with type = \"vnc\"");
            vncOnly = true;
        }
    }
    if (vncOnly) return;
    loadListen(l, t, d);
    loadWebsocket(l, t, d);
    if (auto path = absolutePath(l, t, "password_file"); !path.empty()) {
        std::string password;
        if (auto why = readVncPassword(path, password))
            l.error(t.get("password_file")->source(), "password_file: " + *why);
        else
            d.passwordFile = path;
    }
    if (auto path = absolutePath(l, t, "tls_dir"); !path.empty()) {
        if (auto why = checkTlsDir(path))
            l.error(t.get("tls_dir")->source(), "tls_dir: " + *why);
        else
            d.tlsDir = path;
    }
    l.boolean(t, "tls_verify_peer", d.tlsVerifyPeer);
    if (const toml::node* node = t.get("tls_verify_peer"); node && !t.contains("tls_dir"))
        l.error(node->source(), "tls_verify_peer: only with tls_dir");
    if (d.vnc() && d.vga == VgaModel::None) {
        const toml::node* node = t.get("vga");
        l.error(node ? node->source() : t.source(),
                "vga: a VNC display needs a VGA device; choose \"std\", \"virtio\" or "
                "\"cirrus\"");
    }
}

}  // namespace corral::hypervisor

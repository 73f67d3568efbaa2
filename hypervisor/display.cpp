#include "hypervisor/display.hpp"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "hypervisor/device.hpp"
#include "hypervisor/qemu_argv.hpp"
#include "hypervisor/slot_plan.hpp"

namespace corral::hypervisor {

namespace {

bool numericAddress(const std::string& address, int family) {
    unsigned char buffer[sizeof(struct in6_addr)];
    return inet_pton(family, address.c_str(), buffer) == 1;
}

}  // namespace

std::optional<std::string> parseVncListen(std::string_view text, std::string& address,
                                          unsigned& port) {
    std::string_view host, portText;
    bool bracketed = !text.empty() && text.front() == '[';
    if (bracketed) {
        auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return "expected \"[IPV6]:PORT\" such as \"[::1]:5901\"";
        host = text.substr(1, close - 1);
        portText = text.substr(close + 2);
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string_view::npos)
            return "expected \"unix\" or \"ADDRESS:PORT\" such as \"127.0.0.1:5901\"";
        host = text.substr(0, colon);
        portText = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos)
            return "an IPv6 address goes in brackets: \"[::1]:5901\"";
    }
    std::string hostString(host);
    if (!numericAddress(hostString, bracketed ? AF_INET6 : AF_INET)) {
        return "\"" + hostString + "\" is not a numeric " +
               std::string(bracketed ? "IPv6" : "IPv4") + " address (host names are not resolved)";
    }
    unsigned value = 0;
    auto [end, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), value);
    if (ec != std::errc() || end != portText.data() + portText.size() || portText.empty() ||
        value < kVncBasePort || value > 65535) {
        return "port \"" + std::string(portText) + "\" is not between " +
               std::to_string(kVncBasePort) + " and 65535 (QEMU takes VNC display numbers, port " +
               std::to_string(kVncBasePort) + " + N)";
    }
    address = hostString;
    port = value;
    return std::nullopt;
}

std::string hostPort(const std::string& address, unsigned port) {
    bool v6 = address.find(':') != std::string::npos;
    return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

std::optional<std::string> readVncPassword(const std::filesystem::path& file,
                                           std::string& password) {
    std::string name = file.string();
    struct stat st {};
    if (stat(name.c_str(), &st) != 0) return "cannot read " + name + ": " + std::strerror(errno);
    if (!S_ISREG(st.st_mode)) return name + " is not a regular file";
    if (st.st_uid != 0 || (st.st_mode & 077) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        return name +
               " must be readable by root only (owner root, mode 0600 or 0400); it has "
               "owner uid " +
               std::to_string(st.st_uid) + " and mode " + mode;
    }
    std::ifstream in(file);
    if (!in) return "cannot read " + name + ": " + std::strerror(errno);
    std::ostringstream text;
    text << in.rdbuf();
    std::string value = text.str();
    if (!value.empty() && value.back() == '\n') value.pop_back();
    if (!value.empty() && value.back() == '\r') value.pop_back();
    if (value.empty()) return name + " is empty; write the password on its first line";
    if (value.size() > kMaxVncPassword) {
        return name + ": the password has " + std::to_string(value.size()) +
               " characters; QEMU's VNC authentication takes at most " +
               std::to_string(kMaxVncPassword);
    }
    for (char c : value) {
        if (c < 0x20 || c > 0x7e)
            return name + ": the password may hold only printable ASCII characters, on one line";
    }
    password = value;
    return std::nullopt;
}

std::optional<std::string> checkTlsDir(const std::filesystem::path& dir) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) return dir.string() + " is not a directory";
    for (const char* file : kVncTlsFiles) {
        if (!std::filesystem::is_regular_file(dir / file, ec))
            return dir.string() + " has no " + file +
                   " (QEMU's x509 server needs ca-cert.pem, server-cert.pem and server-key.pem)";
    }
    return std::nullopt;
}

std::filesystem::path vncSocketPath(const std::filesystem::path& runtimeDir) {
    return runtimeDir / kVncSocketName;
}

const DeviceKind* vgaKind(VgaModel model) {
    switch (model) {
        case VgaModel::Std:
            return findKind("vga");
        case VgaModel::Virtio:
            return findKind("virtio-vga");
        case VgaModel::Cirrus:
            return findKind("cirrus-vga");
        case VgaModel::None:
            break;
    }
    return nullptr;
}

void addDisplayArgs(std::vector<std::string>& argv, const DisplaySpec& display,
                    const SlotPlan& plan, const RuntimePaths& paths) {
    if (const auto* vga = vgaKind(display.vga)) {
        auto slot = plan.find(kVgaId);
        if (!slot) throw std::invalid_argument("slot plan has no place for the VGA device");
        argv.insert(argv.end(), {"-device", std::string(vga->driver) + ",id=" + kVgaId +
                                                ",bus=" + slot->bus + ",addr=" + slot->addr()});
    }
    if (!display.vnc()) return;
    std::string vnc;
    if (display.unixListen()) {
        vnc = "unix:" + escapeOption(vncSocketPath(paths.dir).string());
    } else {
        bool v6 = display.address.find(':') != std::string::npos;
        vnc = (v6 ? "[" + display.address + "]" : display.address) + ":" +
              std::to_string(display.port - kVncBasePort);
        if (display.websocketPort)
            vnc += ",websocket=" + hostPort(display.address, display.websocketPort);
    }
    if (!display.passwordFile.empty()) vnc += ",password=on";
    if (!display.tlsDir.empty()) {
        argv.insert(argv.end(), {"-object", std::string("tls-creds-x509,id=") + kVncTlsId +
                                                ",dir=" + escapeOption(display.tlsDir.string()) +
                                                ",endpoint=server,verify-peer=" +
                                                (display.tlsVerifyPeer ? "on" : "off")});
        vnc += std::string(",tls-creds=") + kVncTlsId;
    }
    argv.insert(argv.end(), {"-vnc", vnc});
}

}  // namespace corral::hypervisor

// [display]: the VM's graphical console (a VGA device and a VNC server) as the definition gives
// it, and the QEMU arguments for it. The VNC password never reaches the command line: qemu starts
// with password=on (every client refused) and corrald sets the password over QMP (set_password).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/string_table.hpp"

namespace corral::hypervisor {

struct DeviceKind;
struct RuntimePaths;
struct SlotPlan;

enum class DisplayType { None, Vnc };
enum class VgaModel { None, Std, Virtio, Cirrus };

inline constexpr auto kDisplayTypes =
    makeStringTable<DisplayType>({{DisplayType::None, "none"}, {DisplayType::Vnc, "vnc"}});
inline constexpr auto kVgaModels = makeStringTable<VgaModel>({{VgaModel::Std, "std"},
                                                              {VgaModel::Virtio, "virtio"},
                                                              {VgaModel::Cirrus, "cirrus"},
                                                              {VgaModel::None, "none"}});

// QEMU's -vnc takes a display number: the TCP port minus this.
inline constexpr unsigned kVncBasePort = 5900;
// QEMU's VNC authentication (DES) uses at most this many characters of the password.
inline constexpr std::size_t kMaxVncPassword = 8;
// The VNC socket's name in the runtime dir (listen = "unix").
inline constexpr const char* kVncSocketName = "vnc.sock";
// The VGA device's id (corral's own device, placed by the slot plan).
inline constexpr const char* kVgaId = "corral-vga";
// The files QEMU's x509 server reads from [display] tls_dir.
inline constexpr const char* kVncTlsFiles[] = {"ca-cert.pem", "server-cert.pem", "server-key.pem"};

// The id of the TLS credentials object.
inline constexpr const char* kVncTlsId = "corral-vnc-tls";

struct DisplaySpec {
    DisplayType type = DisplayType::None;
    VgaModel vga = VgaModel::None;  // the loader makes it std with vnc unless given
    // TCP listen address (numeric IPv4 or IPv6, without brackets) and port; empty address: the
    // unix socket kVncSocketName in the runtime dir.
    std::string address;
    unsigned port = 0;
    std::filesystem::path passwordFile;  // empty: no password
    std::filesystem::path tlsDir;        // empty: no TLS
    bool tlsVerifyPeer = false;
    unsigned websocketPort = 0;  // 0: none; TCP listen only

    bool vnc() const { return type == DisplayType::Vnc; }
    bool unixListen() const { return address.empty(); }
};

// "127.0.0.1:5901" -> address and port; "[::1]:5901" -> "::1" and 5901. Only numeric addresses,
// ports from kVncBasePort to 65535. The error says why not.
std::optional<std::string> parseVncListen(std::string_view text, std::string& address,
                                          unsigned& port);

// "HOST:PORT", with brackets around an IPv6 address.
std::string hostPort(const std::string& address, unsigned port);

// The password in `file` (one line; a trailing newline is not part of it), or why it cannot be
// used: missing, not a regular file, not owned by root, readable or writable by group or others,
// empty, longer than kMaxVncPassword, or with characters other than printable ASCII.
std::optional<std::string> readVncPassword(const std::filesystem::path& file,
                                           std::string& password);

// Why `dir` cannot serve as the x509 directory of a TLS server: not a directory, or one of
// ca-cert.pem, server-cert.pem, server-key.pem missing.
std::optional<std::string> checkTlsDir(const std::filesystem::path& dir);

// The unix socket of the VNC server of the instance whose runtime dir is `runtimeDir`.
std::filesystem::path vncSocketPath(const std::filesystem::path& runtimeDir);

// The device kind of a VGA model (its row of deviceKinds()); nullptr for none.
const DeviceKind* vgaKind(VgaModel model);

// The display arguments: the VGA device at its slot in `plan`, -object tls-creds-x509 and -vnc.
// Nothing for a VM without display and VGA (it keeps -display none, which the caller adds).
void addDisplayArgs(std::vector<std::string>& argv, const DisplaySpec& display,
                    const SlotPlan& plan, const RuntimePaths& paths);

}  // namespace corral::hypervisor

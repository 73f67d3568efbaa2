// corralctl's side of the bus: connects, calls org.corral1 methods synchronously (a CLI may
// block) and turns D-Bus errors into one line plus an exit code scripts can rely on.
#pragma once

#include <systemd/sd-bus.h>

#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "supervisor/dbus_ref.hpp"

namespace corral::supervisor::ctl {

// Exit codes of corralctl.
enum Exit : int {
    kOk = 0,
    kFailed = 1,  // the daemon refused or the operation failed
    kUsage = 2,   // bad command line
    kNoSuchInstance = 3,
    kBusy = 4,          // another operation is in progress: retry later
    kInvalidState = 5,  // e.g. starting a running VM
    kUnreachable = 6,   // corrald is not on the bus
};

// A failure with the line to print and the exit code.
struct CtlError : std::runtime_error {
    CtlError(int code, const std::string& message, bool usage = true)
        : std::runtime_error(message), exit(code), hint(usage && code == kUsage) {}
    int exit;
    bool hint;              // a malformed command line: "Try 'corralctl --help'." follows
    std::string dbusError;  // the D-Bus error name when a call failed ("" otherwise)
};

using PropertyValue = std::variant<std::string, std::uint64_t, bool,
                                   std::vector<std::vector<std::string>>, std::vector<std::string>>;
using Properties = std::map<std::string, PropertyValue>;

// Throws CtlError(kFailed) when an sd-bus call returned an error: `what` says what was done.
void check(int r, const char* what);

// The strings of a reply that is one "as" (CtlError(kFailed) if it is not).
std::vector<std::string> readStrings(const MessageRef& reply);

struct InstanceRow {
    std::string name, state;
    std::uint32_t pid = 0;
    std::string path;
};

// How long corralctl -H waits for ssh, the far side's systemd-stdio-bridge and the bus
// handshake before it gives up on the host.
inline constexpr int kRemoteConnectSeconds = 15;

class Client {
  public:
    // Remote: HOST's system bus over ssh and systemd-stdio-bridge (sd_bus_open_system_remote);
    // `target` is then "[user@]host", for Address the bus address.
    enum class Bus { System, Session, Address, Remote };
    Client(Bus bus, const std::string& target);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    std::vector<InstanceRow> list();
    std::string instancePath(const std::string& name);
    Properties properties(const std::string& name);
    // Calls an org.corral1.Instance method; `append` adds the arguments (returning sd-bus's
    // code); returns the reply. `timeoutUsec` 0 = sd-bus default (25 s).
    MessageRef callInstance(const std::string& name, const char* method, std::uint64_t timeoutUsec,
                            const std::function<int(sd_bus_message*)>& append = {});
    // Calls an org.corral1.Manager method, as callInstance does.
    MessageRef callManager(const char* method, std::uint64_t timeoutUsec,
                           const std::function<int(sd_bus_message*)>& append = {});
    void reload();
    sd_bus* bus() const { return bus_; }

  private:
    MessageRef call(const std::string& path, const char* interface, const char* method,
                    std::uint64_t timeoutUsec, const std::function<int(sd_bus_message*)>& append);
    void waitUntilReady(const std::string& host);
    sd_bus* bus_ = nullptr;
    std::string host_;  // Remote only
};

}  // namespace corral::supervisor::ctl

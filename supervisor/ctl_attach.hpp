// `corralctl attach NAME KIND ID [--option KEY=VALUE]...`: the generic AttachDevice. The kind's
// option schema (hypervisor/device.hpp) says which keys exist and which D-Bus type each value
// is sent as; corrald checks the values themselves.
#pragma once

#include <string>
#include <vector>

#include "supervisor/ctl_client.hpp"

namespace corral::supervisor::ctl {

// The absolute path the kernel would open for `text` (symlinks in its existing part resolved,
// ".." gone), since corrald refuses ".." components. `what` names it in the errors:
// CtlError(kUsage) for an empty path or one that cannot be resolved (a loop, a name too long).
std::string resolveLocalPath(const std::string& text, const std::string& what);

// `options` are the KEY=VALUE words of --option, in command-line order. Prints the PCI address
// and returns an exit code; a bad kind, key or value is a CtlError(kUsage) before any call.
// With `persist` the device also goes into the instance's definition file
// (AttachDeviceWithOptions).
int attachDevice(Client& client, const std::string& name, const std::string& kind,
                 const std::string& id, const std::vector<std::string>& options, bool persist,
                 bool json);

}  // namespace corral::supervisor::ctl

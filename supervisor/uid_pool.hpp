// corral.toml's [security] uid_range: the uids corrald gives its qemus (hypervisor/confinement.hpp
// allocates them; the runtime dirs' state.json record who holds which).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "hypervisor/confinement.hpp"
#include "supervisor/instance.hpp"

namespace corral::supervisor {

// The range `text` names (nullopt: the default), refused with `where` ("file:line:col: ") in
// front when malformed or when a user or group of `passwd`/`group` has an id inside it: such an
// account could read and signal the VMs.
hypervisor::UidRange uidRangeSetting(const std::string& where,
                                     const std::optional<std::string>& text,
                                     const std::filesystem::path& passwd = "/etc/passwd",
                                     const std::filesystem::path& group = "/etc/group");

// What corrald's launches do: confined when it runs as root (it cannot drop to another uid
// otherwise), with the migration TLS credentials `tlsDir` holds at each launch on the command
// line. Each unconfined start is logged at warning priority to `log` and to the VM's qemu.log.
hypervisor::ConfinePolicy confinePolicy(hypervisor::UidRange range,
                                        const std::filesystem::path& tlsDir = {}, LogSink log = {});

// The line logged when `name`'s qemu starts unconfined because of `why`.
std::string unconfinedLine(const std::string& name, const std::string& why);

}  // namespace corral::supervisor

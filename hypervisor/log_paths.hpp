// Where a VM's logs live when corrald keeps them apart from its runtime files: qemu.log (qemu's
// stdout and stderr) and console.log (what the guest wrote on its serial console) in
// <log_root>/<name>/, which a host reboot does not empty as it does /run.
#pragma once

#include <filesystem>
#include <string_view>

#include "hypervisor/qemu_argv.hpp"

namespace corral::hypervisor {

// Points `paths.logFile` and `paths.consoleLog` at <logRoot>/<name>/qemu.log and console.log.
// Throws std::invalid_argument if `name` is not a valid instance name.
void placeLogs(RuntimePaths& paths, const std::filesystem::path& logRoot, std::string_view name);

// Creates the directory of `paths.consoleLog` (0750) and both log files (0640), each given to
// group corral when it exists, so its members can read what they may watch on the console.
// Existing files keep their content. Nothing to do without a console log. Throws
// std::system_error naming the path.
void createLogFiles(const RuntimePaths& paths);

}  // namespace corral::hypervisor

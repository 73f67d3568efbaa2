// Removable media: the medium of a running VM's CD-ROM.
#pragma once

#include <string>

#include "monitor/qmp_client.hpp"

namespace corral::hypervisor {

// Puts the ISO at `path` into the drive of device `id` ("": ejects, leaving it empty), whatever
// the guest's tray lock says. On an error midway the drive may be left empty with its tray open.
monitor::awaitable<monitor::Result<void>> changeMedium(monitor::QmpClient& qmp, std::string id,
                                                       std::string path);

}  // namespace corral::hypervisor

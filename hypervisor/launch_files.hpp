// The files a qemu command line names, opened by corrald before the spawn: a missing, unreadable
// or wrong kind of file fails the launch with its path and errno instead of a qemu that dies
// with the reason in its log.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "hypervisor/instance_spec.hpp"

namespace corral::hypervisor {

// Opens (and closes again) each disk image as qemu will (read-write unless `readonly`), each
// cdrom's ISO, the [boot] kernel and initrd, the uefi firmware code read-only and its variables
// read-write, a vnc display's password file and its tls_dir's certificates and key read-only, and
// refuses directories. The first that fails, as "disk 'ID': PATH: REASON" (cdrom 'ID', boot
// kernel, boot initrd, firmware code, firmware vars, vnc password, vnc tls); nullopt when all
// open. `devices` are the ones the command line will carry (the slot plan's or the records').
std::optional<std::string> unopenableFile(const InstanceSpec& spec,
                                          const std::vector<Device>& devices);

}  // namespace corral::hypervisor

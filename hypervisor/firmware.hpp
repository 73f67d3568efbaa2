// [firmware] type = "uefi": OVMF as two pflash devices, the code image read-only and a variable
// store (boot entries, Secure Boot keys) that is this VM's own, copied from the package's
// template at the first start under <state dir>/<name>/ and kept across runs, never overwritten.
// Secure Boot takes the Secure Boot build of the code (it needs SMM, so q35) and the template
// with Microsoft's keys enrolled.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "hypervisor/instance_spec.hpp"

namespace corral::hypervisor {

// The OVMF images corrald uses; [firmware] in corral.toml may name others. Debian's ovmf package.
struct FirmwareFiles {
    std::filesystem::path code = "/usr/share/OVMF/OVMF_CODE_4M.fd";
    std::filesystem::path vars = "/usr/share/OVMF/OVMF_VARS_4M.fd";
    std::filesystem::path secureCode = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd";
    std::filesystem::path secureVars = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd";
};

// The name of the VM's variable store in its state dir: one per template, so that turning
// Secure Boot on never carries a store without keys into it (or the other way round).
std::string varsFileName(const FirmwareSpec& firmware);

// For a uefi VM: checks the images exist, creates `stateDir` and the variable store in it from
// the template if it is not there yet, and fills in firmware.code and firmware.vars. Nothing
// for bios. Throws std::runtime_error naming the missing file (and the package) or what failed.
void prepareFirmware(FirmwareSpec& firmware, const FirmwareFiles& files,
                     const std::filesystem::path& stateDir);

// ",pflash0=...,pflash1=...[,smm=on]": what -machine takes for the firmware ("" for bios).
std::string firmwareMachineProperties(const FirmwareSpec& firmware);

// The -blockdev nodes of the two flash images (and, with Secure Boot, the flag that lets only
// SMM code write the variable store). Nothing for bios.
void addFirmwareArgs(const FirmwareSpec& firmware, std::vector<std::string>& argv);

}  // namespace corral::hypervisor

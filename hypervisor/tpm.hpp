// [tpm]: a TPM 2.0 emulated by swtpm, one swtpm process per VM. The pure part: the definition,
// swtpm's command line and qemu's arguments. supervisor/swtpm_process.* runs the process.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/string_table.hpp"

namespace corral::hypervisor {

struct RuntimePaths;

enum class TpmType { None, Tpm2 };

inline constexpr auto kTpmTypes =
    makeStringTable<TpmType>({{TpmType::None, "none"}, {TpmType::Tpm2, "tpm2"}});

struct TpmSpec {
    TpmType type = TpmType::None;
};

// The program corrald runs unless it is not on PATH (Debian package swtpm).
inline constexpr const char* kSwtpmBinary = "swtpm";

// swtpm's files in the runtime dir and its state under the state root.
std::filesystem::path swtpmSocketPath(const std::filesystem::path& runtimeDir);
std::filesystem::path swtpmPidPath(const std::filesystem::path& runtimeDir);
std::filesystem::path swtpmLogPath(const std::filesystem::path& runtimeDir);
// <stateRoot>/<name>/tpm: what the TPM keeps between runs (its NVRAM, keys, PCR policy).
std::filesystem::path tpmStateDir(const std::filesystem::path& stateRoot, const std::string& name);

// swtpm socket --tpm2 with its state in `stateDir` and its control socket in `runtimeDir`,
// ending itself once qemu's connection is gone (--terminate). argv[0] is `binary`. swtpm's
// options know no escaping: the paths come from corrald's configuration and the instance name,
// which has no commas.
// With a `uid` (a confined VM's) swtpm names no path at all: it starts in `stateDir` (its cwd,
// "dir=."; the state root above is closed to it), listens on the socket corrald bound and passed
// as fd 3, logs to its stdout (swtpm.log), drops to uid:uid (--runas, no capabilities left) and
// loads its seccomp filter; corrald writes swtpm.pid. A uid cannot create files in the runtime
// dir, and after the drop swtpm cannot read its own /proc/self/fd (which --pid fd= needs).
std::vector<std::string> swtpmArgv(const std::string& binary, const std::filesystem::path& stateDir,
                                   const std::filesystem::path& runtimeDir,
                                   std::optional<std::uint32_t> uid = std::nullopt);

// qemu's side: the chardev to swtpm's socket, the emulator tpmdev and a tpm-crb device (TPM 2.0
// over the Command Response Buffer interface, found by the guest through ACPI).
void addTpmArgs(std::vector<std::string>& argv, const TpmSpec& tpm, const RuntimePaths& paths);

}  // namespace corral::hypervisor

// corrald's command line and /etc/corral/corral.toml, merged: options win over the file.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "hypervisor/confinement.hpp"
#include "hypervisor/firmware.hpp"
#include "supervisor/host_shutdown.hpp"
#include "supervisor/log_files.hpp"
#include "supervisor/metrics_http.hpp"
#include "supervisor/migration_config.hpp"

namespace corral::supervisor {

struct DaemonOptions {
    enum class Bus { System, Session, Address } bus = Bus::System;
    std::string busAddress;
    std::filesystem::path config = "/etc/corral/corral.toml";
    std::filesystem::path runtimeDir = "/run/corral";
    std::filesystem::path instancesDir = "/etc/corral/instances";
    // What a VM keeps between its runs (UEFI variables, TPM state): <stateDir>/<name>/.
    std::filesystem::path stateDir = "/var/lib/corral";
    // qemu.log and console.log of each VM, in <logDir>/<name>/ ([paths] log_dir, --log-dir).
    std::filesystem::path logDir = "/var/log/corral";
    // [logs] max_size, keep: the bound of each log file and how many rotated ones are kept.
    LogBound logBound;
    std::filesystem::path commandsDir = "/usr/lib/negotiator/commands";
    std::string qemuBinary = "qemu-system-x86_64";
    // How long one QMP command may take before the monitor counts as unresponsive.
    std::chrono::milliseconds qmpTimeout = std::chrono::seconds(30);
    // [storage] allowed_dirs: where Undefine(remove_storage) may delete disk images.
    std::vector<std::filesystem::path> storageDirs = {"/var/lib/corral"};
    // [metrics] listen: where Prometheus scrapes; none (the default) serves no metrics.
    std::optional<ListenAddress> metricsListen;
    // [firmware] code, vars, secure_code, secure_vars: the OVMF images of uefi VMs.
    hypervisor::FirmwareFiles firmware;
    // [host] shutdown_timeout: the bound of the host shutdown phase (host_shutdown.hpp).
    HostPolicy host;
    // [migration]: where an incoming migration listens.
    MigrationSettings migration;
    // [security] uid_range: the uids of the confined qemus (hypervisor/confinement.hpp).
    hypervisor::UidRange uidRange = hypervisor::kDefaultUidRange;
    bool help = false;
};

// Parses argv and then the config file (a missing default config file is fine, a missing
// explicit one is not). Throws std::runtime_error with a sentence for the user.
DaemonOptions parseDaemonOptions(int argc, char** argv);

extern const char* const kDaemonUsage;

}  // namespace corral::supervisor

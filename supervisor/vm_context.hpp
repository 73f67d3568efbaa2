// What every VM of one daemon shares: the io_context, the clock, where runtime dirs and guest
// commands live, the log, and the parts a running qemu is made of (real ones in corrald, fakes
// in unit tests).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>

#include "hypervisor/firmware.hpp"
#include "hypervisor/qemu_argv.hpp"
#include "supervisor/clock.hpp"
#include "supervisor/instance.hpp"
#include "supervisor/log_files.hpp"
#include "supervisor/qemu_parts.hpp"
#include "supervisor/systemd_scope.hpp"

namespace corral::supervisor {

struct VmContext {
    boost::asio::any_io_executor executor;
    Clock& clock;
    QemuParts& parts;
    std::filesystem::path runtimeRoot;
    std::filesystem::path commandsDir;  // guest-to-host commands
    // What a VM keeps between its runs, under <stateRoot>/<name>/ (UEFI variables, TPM state).
    std::filesystem::path stateRoot = "/var/lib/corral";
    LogSink log;
    ScopeManager* scopes = nullptr;  // null when systemd is not there
    std::string qemuBinary = hypervisor::kDefaultQemuBinary;
    std::chrono::milliseconds qmpTimeout = std::chrono::seconds(30);  // per QMP command
    // The file an instance's definition comes from; a launch is refused once it is gone. Empty:
    // not checked (unit tests).
    std::function<std::filesystem::path(const std::string& name)> definitionFile;
    hypervisor::FirmwareFiles firmware = {};  // the OVMF images of uefi VMs
    // <logRoot>/<name>/: qemu.log and console.log, rotated within `logBound` (log_files.hpp).
    // Empty: qemu.log in the runtime dir, no console log, no rotation (unit tests).
    std::filesystem::path logRoot = {};
    LogBound logBound = {};
};

}  // namespace corral::supervisor

#include "hypervisor/firmware.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include "hypervisor/qemu_argv.hpp"

namespace corral::hypervisor {

namespace {

constexpr std::string_view kCodeNode = "corral-fw-code";
constexpr std::string_view kVarsNode = "corral-fw-vars";

void checkImage(const std::filesystem::path& path, std::string_view key) {
    if (::access(path.c_str(), R_OK) == 0) return;
    int error = errno;
    throw std::runtime_error(
        "UEFI firmware image " + path.string() + ": " + std::strerror(error) +
        (error == ENOENT ? " (install the ovmf package, or name another image with [firmware] " +
                               std::string(key) + " in corral.toml)"
                         : std::string()));
}

// Copies `from` to `to` unless `to` exists; a crash midway leaves no half-written store, and
// a store another start created meanwhile is kept.
void copyOnce(const std::filesystem::path& from, const std::filesystem::path& to) {
    if (::access(to.c_str(), F_OK) == 0) return;
    auto temp = to;
    temp += ".new";
    std::filesystem::copy_file(from, temp, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::permissions(
        temp, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    int fd = ::open(temp.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
    int linked = ::link(temp.c_str(), to.c_str());
    int error = errno;
    ::unlink(temp.c_str());
    if (linked != 0 && error != EEXIST)
        throw std::system_error(error, std::generic_category(), "cannot create " + to.string());
}

}  // namespace

std::string varsFileName(const FirmwareSpec& firmware) {
    return firmware.secureBoot ? "OVMF_VARS.secboot.fd" : "OVMF_VARS.fd";
}

void prepareFirmware(FirmwareSpec& firmware, const FirmwareFiles& files,
                     const std::filesystem::path& stateDir) {
    if (firmware.type != FirmwareType::Uefi) return;
    const auto& code = firmware.secureBoot ? files.secureCode : files.code;
    const auto& vars = firmware.secureBoot ? files.secureVars : files.vars;
    checkImage(code, firmware.secureBoot ? "secure_code" : "code");
    checkImage(vars, firmware.secureBoot ? "secure_vars" : "vars");
    std::filesystem::create_directories(stateDir);
    ::chmod(stateDir.c_str(), 0750);
    firmware.code = code;
    firmware.vars = stateDir / varsFileName(firmware);
    copyOnce(vars, firmware.vars);
}

std::string firmwareMachineProperties(const FirmwareSpec& firmware) {
    if (firmware.type != FirmwareType::Uefi) return {};
    std::string out = ",pflash0=" + std::string(kCodeNode) + ",pflash1=" + std::string(kVarsNode);
    if (firmware.secureBoot) out += ",smm=on";
    return out;
}

void addFirmwareArgs(const FirmwareSpec& firmware, std::vector<std::string>& argv) {
    if (firmware.type != FirmwareType::Uefi) return;
    if (firmware.code.empty() || firmware.vars.empty())
        throw std::invalid_argument("uefi firmware without images: prepareFirmware() first");
    argv.insert(argv.end(),
                {"-blockdev",
                 "driver=file,node-name=" + std::string(kCodeNode) +
                     ",filename=" + escapeOption(firmware.code.string()) + ",read-only=on",
                 "-blockdev",
                 "driver=file,node-name=" + std::string(kVarsNode) +
                     ",filename=" + escapeOption(firmware.vars.string()) + ",read-only=off"});
    if (firmware.secureBoot)
        argv.insert(argv.end(), {"-global", "driver=cfi.pflash01,property=secure,value=on"});
}

}  // namespace corral::hypervisor

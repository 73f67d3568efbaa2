#include "hypervisor/launch_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "hypervisor/display.hpp"

namespace corral::hypervisor {
namespace {

// Why `path` cannot be opened with `flags`; nullopt when it can.
std::optional<std::string> openProblem(const std::filesystem::path& path, int flags) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return std::strerror(errno);
    struct stat st {};
    int error = ::fstat(fd, &st) == 0 ? (S_ISDIR(st.st_mode) ? EISDIR : 0) : errno;
    ::close(fd);
    if (error) return std::strerror(error);
    return std::nullopt;
}

std::optional<std::string> check(const std::string& what, const std::filesystem::path& path,
                                 int flags) {
    if (path.empty()) return std::nullopt;
    if (auto why = openProblem(path, flags)) return what + ": " + path.string() + ": " + *why;
    return std::nullopt;
}

}  // namespace

std::optional<std::string> unopenableFile(const InstanceSpec& spec,
                                          const std::vector<Device>& devices) {
    for (const auto& device : devices) {
        if (!device.kind) continue;
        auto backend = device.kind->backend;
        if (backend != Backend::Block && backend != Backend::Media) continue;
        int flags = backend == Backend::Block && !device.flag("readonly") ? O_RDWR : O_RDONLY;
        auto what = std::string(device.kindName()) + " '" + device.id + "'";
        if (auto why = check(what, std::string(device.text("path")), flags)) return why;
    }
    if (spec.boot) {
        if (auto why = check("boot kernel", spec.boot->kernel, O_RDONLY)) return why;
        if (auto why = check("boot initrd", spec.boot->initrd, O_RDONLY)) return why;
    }
    // Empty until prepareFirmware has placed a uefi VM's images.
    if (auto why = check("firmware code", spec.firmware.code, O_RDONLY)) return why;
    if (auto why = check("firmware vars", spec.firmware.vars, O_RDWR)) return why;
    if (!spec.display.vnc()) return std::nullopt;
    // The password is corrald's to read (it goes to qemu over QMP): it must be there before qemu
    // runs with every client refused.
    if (auto why = check("vnc password", spec.display.passwordFile, O_RDONLY)) return why;
    if (spec.display.tlsDir.empty()) return std::nullopt;
    for (const char* file : kVncTlsFiles)
        if (auto why = check("vnc tls", spec.display.tlsDir / file, O_RDONLY)) return why;
    return std::nullopt;
}

}  // namespace corral::hypervisor

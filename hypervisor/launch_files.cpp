#include "hypervisor/launch_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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
    return std::nullopt;
}

}  // namespace corral::hypervisor

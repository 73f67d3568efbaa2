#include "hypervisor/log_paths.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "hypervisor/instance_name.hpp"
#include "hypervisor/runtime_dir.hpp"

namespace corral::hypervisor {
namespace {

std::system_error failure(const std::string& what, const std::filesystem::path& path) {
    return std::system_error(errno, std::generic_category(), what + " " + path.string());
}

gid_t adminGroup() {
    struct group entry {};
    struct group* found = nullptr;
    char buffer[1024];
    if (getgrnam_r(kAdminGroup, &entry, buffer, sizeof buffer, &found) == 0 && found)
        return found->gr_gid;
    return static_cast<gid_t>(-1);
}

// Opens `path` with `flags` and gives it `mode` and group corral; the fd is closed again.
void openShared(const std::filesystem::path& path, int flags, mode_t mode) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) throw failure("cannot open", path);
    auto gid = adminGroup();
    const char* failed = nullptr;
    if (gid != static_cast<gid_t>(-1) && ::fchown(fd, static_cast<uid_t>(-1), gid) != 0)
        failed = "cannot give to group corral:";
    else if (::fchmod(fd, mode) != 0)
        failed = "cannot set the mode of";
    int saved = errno;
    ::close(fd);
    errno = saved;
    if (failed) throw failure(failed, path);
}

}  // namespace

void placeLogs(RuntimePaths& paths, const std::filesystem::path& logRoot, std::string_view name) {
    if (auto why = checkInstanceName(name)) throw std::invalid_argument(*why);
    auto dir = logRoot / std::string(name);
    paths.logFile = dir / "qemu.log";
    paths.consoleLog = dir / "console.log";
}

void createLogFiles(const RuntimePaths& paths) {
    if (paths.consoleLog.empty()) return;
    auto dir = paths.consoleLog.parent_path();
    std::error_code ec;
    std::filesystem::create_directories(dir.parent_path(), ec);
    if (ec) throw std::system_error(ec, "cannot create " + dir.parent_path().string());
    if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) throw failure("cannot create", dir);
    openShared(dir, O_RDONLY | O_DIRECTORY, 0750);
    for (const auto& file : {paths.logFile, paths.consoleLog})
        openShared(file, O_WRONLY | O_CREAT | O_APPEND, 0640);
}

}  // namespace corral::hypervisor

#include "hypervisor/qemu_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <fstream>
#include <iterator>
#include <system_error>

namespace corral::hypervisor {
namespace {

constexpr idtype_t kPidfdIdType = static_cast<idtype_t>(3);  // P_PIDFD (linux/wait.h)

int pidfdOpen(pid_t pid) {
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

[[noreturn]] void fail(int error, const std::string& what) {
    throw std::system_error(error, std::generic_category(), what);
}

// Closes fds it owns when the spawn attempt ends, whatever the outcome.
struct FdGuard {
    std::vector<int> fds;
    ~FdGuard() {
        for (int fd : fds) ::close(fd);
    }
};

}  // namespace

std::string ExitStatus::describe() const {
    switch (kind) {
        case Kind::Exited:
            return "exited with status " + std::to_string(code);
        case Kind::Signaled:
            return "killed by signal " + std::to_string(code);
        case Kind::Unknown:
            break;
    }
    return "exited (status unknown)";
}

QemuProcess::QemuProcess(const boost::asio::any_io_executor& executor, pid_t pid, int pidfd,
                         bool child)
    : pid_(pid), child_(child), pidfd_(executor, pidfd) {}

QemuProcess QemuProcess::spawn(const boost::asio::any_io_executor& executor,
                               const std::vector<std::string>& argv,
                               const std::filesystem::path& log, const std::vector<int>& passFds,
                               const std::filesystem::path& cwd) {
    if (argv.empty()) throw std::invalid_argument("spawn: empty argv");
    FdGuard guard;
    // Copies above every target number, so placing fd k at 3+k never clobbers a later source.
    int firstFree = 3 + static_cast<int>(passFds.size());
    std::vector<int> sources;
    for (int fd : passFds) {
        int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, firstFree);
        if (copy < 0) fail(errno, "spawn: cannot duplicate fd " + std::to_string(fd));
        guard.fds.push_back(copy);
        sources.push_back(copy);
    }
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    for (std::size_t k = 0; k < sources.size(); ++k) {
        posix_spawn_file_actions_adddup2(&actions, sources[k], 3 + static_cast<int>(k));
    }
    // After the opens: a relative `log` is the caller's.
    if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
    posix_spawn_file_actions_addclosefrom_np(&actions, firstFree);
    posix_spawnattr_setflags(&attr,
                             POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);

    std::vector<char*> cargv;
    for (const auto& arg : argv) cargv.push_back(const_cast<char*>(arg.c_str()));
    cargv.push_back(nullptr);
    pid_t pid = -1;
    // posix_spawn has no umask attribute: the child inherits ours, so qemu's sockets
    // (0777 & ~umask) and pidfile come out 0600. corrald is single-threaded: nobody else sees it.
    mode_t previousUmask = ::umask(0177);
    int rc = ::posix_spawnp(&pid, cargv[0], &actions, &attr, cargv.data(), environ);
    ::umask(previousUmask);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) fail(rc, "cannot start " + argv[0]);
    int pidfd = pidfdOpen(pid);
    if (pidfd < 0) {
        int error = errno;
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        fail(error, "pidfd_open for " + argv[0]);
    }
    ::fcntl(pidfd, F_SETFD, FD_CLOEXEC);
    return QemuProcess(executor, pid, pidfd, true);
}

std::optional<std::vector<std::string>> processCmdline(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
    if (!in) return std::nullopt;
    std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (raw.empty()) return std::nullopt;  // zombie or kernel thread
    std::vector<std::string> argv;
    std::size_t start = 0;
    while (start < raw.size()) {
        auto end = raw.find('\0', start);
        if (end == std::string::npos) end = raw.size();
        argv.push_back(raw.substr(start, end - start));
        start = end + 1;
    }
    return argv;
}

std::optional<QemuProcess> QemuProcess::adopt(const boost::asio::any_io_executor& executor,
                                              pid_t pid,
                                              const std::vector<std::string>& expectedArgv,
                                              std::string& why) {
    if (pid <= 0) {
        why = "no pid recorded";
        return std::nullopt;
    }
    // The pidfd pins the process: a cmdline check after pidfd_open cannot be fooled by pid reuse.
    int pidfd = pidfdOpen(pid);
    if (pidfd < 0) {
        why = "process " + std::to_string(pid) + " is not running";
        return std::nullopt;
    }
    auto cmdline = processCmdline(pid);
    if (!cmdline || *cmdline != expectedArgv) {
        ::close(pidfd);
        why = "process " + std::to_string(pid) + " is not the qemu started for this instance " +
              "(its command line differs from state.json)";
        return std::nullopt;
    }
    ::fcntl(pidfd, F_SETFD, FD_CLOEXEC);
    return QemuProcess(executor, pid, pidfd, false);
}

boost::asio::awaitable<ExitStatus> QemuProcess::waitExit() {
    while (!exit_) {
        siginfo_t info{};
        int flags = WEXITED | WNOHANG | (child_ ? 0 : WNOWAIT);
        int rc = ::waitid(kPidfdIdType, static_cast<id_t>(pidfd_.native_handle()), &info, flags);
        if (rc == 0 && info.si_pid != 0) {
            if (info.si_code == CLD_EXITED) {
                exit_ = ExitStatus{ExitStatus::Kind::Exited, info.si_status};
            } else {
                exit_ = ExitStatus{ExitStatus::Kind::Signaled, info.si_status};
            }
            break;
        }
        if (rc != 0 && errno == ECHILD) {
            // Not our child (reattached): the pidfd turns readable on exit, the status is lost.
            co_await pidfd_.async_wait(boost::asio::posix::descriptor_base::wait_read,
                                       boost::asio::use_awaitable);
            exit_ = ExitStatus{};
            break;
        }
        if (rc != 0 && errno != EINTR) {
            exit_ = ExitStatus{};
            break;
        }
        co_await pidfd_.async_wait(boost::asio::posix::descriptor_base::wait_read,
                                   boost::asio::use_awaitable);
    }
    co_return *exit_;
}

bool QemuProcess::kill(int signal) {
    if (exit_) return false;
    return ::syscall(SYS_pidfd_send_signal, pidfd_.native_handle(), signal, nullptr, 0) == 0;
}

}  // namespace corral::hypervisor

// A qemu child (or a reattached qemu) watched through a pidfd on the io_context: no SIGCHLD
// handler, no blocking waitpid. posix_spawn gives what Boost.Process v2 (1.81) does not expose
// together: setsid, closefrom for every fd not explicitly passed, and the pid for pidfd_open.
#pragma once

#include <sys/types.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace corral::hypervisor {

struct ExitStatus {
    enum class Kind { Exited, Signaled, Unknown };  // Unknown: a reattached, non-child process
    Kind kind = Kind::Unknown;
    int code = 0;  // exit code or signal number

    // "exited with status 0", "killed by signal 9", "exited (status unknown)".
    std::string describe() const;
};

class QemuProcess {
  public:
    // Starts argv (argv[0] looked up in PATH) in its own session with stdin /dev/null,
    // stdout+stderr appended to `log`, passFds[k] as fd 3+k and no other fd inherited, umask 0177
    // (qemu's sockets and pidfile are 0600), in `cwd` when one is given.
    // Throws std::system_error if it cannot be started.
    static QemuProcess spawn(const boost::asio::any_io_executor& executor,
                             const std::vector<std::string>& argv, const std::filesystem::path& log,
                             const std::vector<int>& passFds = {},
                             const std::filesystem::path& cwd = {});

    // Takes over a running qemu after a corrald restart: only if `pid` is alive and its
    // /proc/<pid>/cmdline equals `expectedArgv`. Otherwise nullopt and `why` says why.
    static std::optional<QemuProcess> adopt(const boost::asio::any_io_executor& executor, pid_t pid,
                                            const std::vector<std::string>& expectedArgv,
                                            std::string& why);

    QemuProcess(QemuProcess&&) noexcept = default;
    QemuProcess& operator=(QemuProcess&&) noexcept = default;
    ~QemuProcess() = default;  // never kills: restarting corrald must not kill a VM

    pid_t pid() const { return pid_; }
    bool isChild() const { return child_; }

    // Completes when the process has exited (reaped if it is our child).
    boost::asio::awaitable<ExitStatus> waitExit();
    // Sends `signal` through the pidfd (no pid-reuse race); false if it is already gone.
    bool kill(int signal);

  private:
    QemuProcess(const boost::asio::any_io_executor& executor, pid_t pid, int pidfd, bool child);

    pid_t pid_ = -1;
    bool child_ = false;
    std::optional<ExitStatus> exit_;
    boost::asio::posix::stream_descriptor pidfd_;
};

// argv of a live process from /proc/<pid>/cmdline; nullopt if it is gone or unreadable.
std::optional<std::vector<std::string>> processCmdline(pid_t pid);

}  // namespace corral::hypervisor

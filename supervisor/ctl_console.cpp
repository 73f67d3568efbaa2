#include "supervisor/ctl_console.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "supervisor/ctl_client.hpp"

namespace corral::supervisor::ctl {

namespace {

constexpr char kEscape = 0x1d;  // Ctrl-]

bool writeAll(int fd, const char* data, ssize_t size) {
    while (size > 0) {
        ssize_t n = ::write(fd, data, static_cast<size_t>(size));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data += n;
        size -= n;
    }
    return true;
}

// Restores the terminal however the console ends.
class RawTerminal {
  public:
    RawTerminal() {
        if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_) != 0) return;
        termios raw = saved_;
        cfmakeraw(&raw);
        active_ = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
    ~RawTerminal() {
        if (active_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
    }

  private:
    termios saved_{};
    bool active_ = false;
};

// Holds the console's lock (socket + ".lock", made by corrald) while it lives; refuses when
// another client holds it. No lock file (a VM started by an older corrald): no lock.
class ConsoleLock {
  public:
    ConsoleLock(const std::string& socketPath, const std::string& name) {
        fd_ = ::open((socketPath + ".lock").c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd_ < 0) {
            if (errno == EACCES) refusal_ = permissionDenied(name);
            return;
        }
        if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            refusal_ = errno == EWOULDBLOCK ? name +
                                                  "'s console is in use by another corralctl "
                                                  "console; only one may be attached"
                                            : std::string("cannot lock ") + socketPath +
                                                  ".lock: " + std::strerror(errno);
            code_ = errno == EWOULDBLOCK ? kBusy : kFailed;
        }
    }
    ~ConsoleLock() {
        if (fd_ >= 0) ::close(fd_);
    }
    ConsoleLock(const ConsoleLock&) = delete;
    ConsoleLock& operator=(const ConsoleLock&) = delete;

    static std::string permissionDenied(const std::string& name) {
        return "permission denied: " + name + "'s console needs root or membership in group corral";
    }
    const std::string& refusal() const { return refusal_; }
    int code() const { return code_; }

  private:
    int fd_ = -1;
    std::string refusal_;
    int code_ = kFailed;
};

}  // namespace

int runConsole(const std::string& socketPath, const std::string& name) {
    ConsoleLock lock(socketPath, name);
    if (!lock.refusal().empty()) {
        std::fprintf(stderr, "corralctl: %s\n", lock.refusal().c_str());
        return lock.code();
    }
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (fd < 0 || socketPath.size() >= sizeof(addr.sun_path)) {
        std::fprintf(stderr, "corralctl: cannot open %s\n", socketPath.c_str());
        if (fd >= 0) ::close(fd);
        return kFailed;
    }
    std::memcpy(addr.sun_path, socketPath.c_str(), socketPath.size());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        if (errno == EACCES)
            std::fprintf(stderr, "corralctl: %s\n", ConsoleLock::permissionDenied(name).c_str());
        else
            std::fprintf(stderr, "corralctl: cannot connect to %s: %s (is %s running?)\n",
                         socketPath.c_str(), std::strerror(errno), name.c_str());
        ::close(fd);
        return kFailed;
    }
    std::fprintf(stderr, "Connected to %s's serial console; Ctrl-] to leave.\r\n", name.c_str());
    int rc = kOk;
    {
        RawTerminal raw;
        pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {fd, POLLIN, 0}};
        char buf[4096];
        for (;;) {
            if (::poll(fds, 2, -1) < 0) {
                if (errno == EINTR) continue;
                break;
            }
            if (fds[0].revents & (POLLIN | POLLHUP)) {
                ssize_t n = ::read(STDIN_FILENO, buf, sizeof(buf));
                if (n <= 0) break;
                auto* esc = static_cast<char*>(std::memchr(buf, kEscape, static_cast<size_t>(n)));
                if (esc) n = esc - buf;
                if (n > 0 && !writeAll(fd, buf, n)) break;
                if (esc) break;
            }
            if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
                ssize_t n = ::read(fd, buf, sizeof(buf));
                if (n <= 0) {
                    rc = kFailed;
                    break;
                }
                if (!writeAll(STDOUT_FILENO, buf, n)) break;
            }
        }
    }
    ::close(fd);
    std::fprintf(stderr, "\nDisconnected from %s.\n", name.c_str());
    return rc;
}

}  // namespace corral::supervisor::ctl

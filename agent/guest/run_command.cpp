#include "agent/guest/run_command.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "agent/commands.hpp"
#include "agent/guest/port.hpp"
#include "agent/spawn.hpp"

namespace corral::agent::guest {

namespace {

using Clock = std::chrono::steady_clock;

struct Pipe {
    int read = -1;
    int write = -1;
};

void closeFd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
}

bool makePipe(Pipe& p) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return false;
    p.read = fds[0];
    p.write = fds[1];
    return true;
}

int remainingMs(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return static_cast<int>(std::max<long long>(0, left.count()));
}

// Kills the whole process group (the command may have children) and reaps the leader.
int killAndReap(pid_t pid) {
    ::kill(-pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

// Waits for the leader to exit after its pipes closed, bounded by the deadline.
std::optional<int> reap(pid_t pid, Clock::time_point deadline) {
    int status = 0;
    for (;;) {
        auto r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) return status;
        if (r < 0 && errno != EINTR) return 0;
        if (Clock::now() >= deadline) return std::nullopt;
        timespec pause{0, 5'000'000};
        ::nanosleep(&pause, nullptr);
    }
}

// A command that did not run to its end: no status.
RunResult notRun(std::string why) {
    RunResult result;
    result.error = std::move(why);
    return result;
}

}  // namespace

RunResult runCommand(const std::string& program, const std::vector<std::string>& argv,
                     const std::optional<std::string>& input, const RunLimits& limits) {
    const std::string& name = argv.at(0);
    Pipe in, out, err;
    if (!makePipe(in) || !makePipe(out) || !makePipe(err)) {
        for (Pipe* p : {&in, &out, &err}) closeFd(p->read), closeFd(p->write);
        return notRun("cannot create pipes for '" + name + "': " + std::strerror(errno));
    }
    SpawnRequest request{program, argv, nullptr, {in.read, out.write, err.write}, false, true};
    pid_t pid = -1;
    int rc = spawnCommand(request, pid);
    closeFd(in.read);
    closeFd(out.write);
    closeFd(err.write);
    if (rc != 0) {
        for (int* fd : {&in.write, &out.read, &err.read}) closeFd(*fd);
        return notRun("cannot execute '" + name + "': " + std::strerror(rc));
    }

    for (int fd : {in.write, out.read, err.read}) ::fcntl(fd, F_SETFL, O_NONBLOCK);
    std::string stdinData = input.value_or("");
    std::size_t written = 0;
    if (stdinData.empty()) closeFd(in.write);
    std::string output, errors;
    const bool bounded = limits.timeout.count() > 0;
    auto deadline = bounded ? Clock::now() + limits.timeout : Clock::time_point::max();
    std::string failure;
    char buffer[65536];
    while ((out.read >= 0 || err.read >= 0) && failure.empty()) {
        auto* hangup = limits.hangup;
        int watched = hangup && !hangup->hungUp ? hangup->fd : -1;
        pollfd fds[4] = {{out.read, POLLIN, 0},
                         {err.read, POLLIN, 0},
                         {in.write, POLLOUT, 0},
                         {watched, 0, 0}};  // POLLHUP is reported without asking
        int n = ::poll(fds, 4, bounded ? remainingMs(deadline) : -1);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0 || (bounded && Clock::now() >= deadline)) {
            failure = "command '" + name + "' timed out after " +
                      std::to_string(limits.timeout.count() / 1000.0).substr(0, 5) + " s";
            break;
        }
        if (watched >= 0 && (fds[3].revents & (POLLHUP | POLLERR))) {
            hangup->hungUp = true;
            log(0, "the host hung up while '" + name + "' ran: its reply will be dropped");
        }
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            auto got = ::read(fds[i].fd, buffer, sizeof buffer);
            if (got > 0) {
                (i == 0 ? output : errors).append(buffer, static_cast<std::size_t>(got));
            } else if (got == 0 || errno != EAGAIN) {
                closeFd(i == 0 ? out.read : err.read);
            }
        }
        if (!limits.keepStderr && errors.size() > 2 * kStderrTail)
            errors = errors.substr(errors.size() - kStderrTail);
        if (output.size() + (limits.keepStderr ? errors.size() : 0) > limits.maxOutput) {
            failure = "command '" + name + "' wrote more than " + std::to_string(limits.maxOutput) +
                      " bytes of output";
        }
        if (fds[2].fd >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
            auto put = ::write(in.write, stdinData.data() + written, stdinData.size() - written);
            if (put > 0) written += static_cast<std::size_t>(put);
            if (written == stdinData.size() || (put < 0 && errno != EAGAIN)) closeFd(in.write);
        }
    }
    for (int* fd : {&in.write, &out.read, &err.read}) closeFd(*fd);
    if (!failure.empty()) {
        killAndReap(pid);
        return notRun(failure);
    }
    auto status = reap(pid, deadline);
    if (!status) {
        killAndReap(pid);
        return notRun("command '" + name + "' timed out after closing its output");
    }
    RunResult ran;
    ran.exitStatus = WIFEXITED(*status) ? WEXITSTATUS(*status) : 128 + WTERMSIG(*status);
    ran.ok = ran.exitStatus == 0;
    if (!ran.ok) ran.error = describeFailure(name, *status, errors);
    ran.output = std::move(output);
    ran.errors = std::move(errors);
    return ran;
}

}  // namespace corral::agent::guest

#include "agent/async_command.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <cerrno>
#include <cstring>

#include "agent/commands.hpp"
#include "agent/spawn.hpp"

namespace corral::agent {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using asio::awaitable;
using Descriptor = asio::posix::stream_descriptor;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {

struct Pipes {
    int fds[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};  // stdin, stdout, stderr
    ~Pipes() {
        for (auto& pair : fds) {
            for (int fd : pair) {
                if (fd >= 0) ::close(fd);
            }
        }
    }
    int take(int stream, int end) { return std::exchange(fds[stream][end], -1); }
};

// Reads until EOF. Past `cap` bytes of stdout it kills the command's group at once: a command
// that floods must not run on until its deadline. Stderr keeps only its tail.
awaitable<void> drain(Descriptor& from, std::string& into, std::size_t cap, pid_t killOnOverflow,
                      bool& overflow) {
    std::array<char, 65536> buffer;
    for (;;) {
        auto [ec, n] = co_await from.async_read_some(asio::buffer(buffer), kTuple);
        if (ec) co_return;
        into.append(buffer.data(), n);
        if (killOnOverflow < 0 && into.size() > 2 * cap) into.erase(0, into.size() - cap);
        if (killOnOverflow > 0 && into.size() > cap) {
            overflow = true;
            ::kill(-killOnOverflow, SIGKILL);
            co_return;
        }
    }
}

awaitable<void> feed(Descriptor& to, std::string data) {
    co_await asio::async_write(to, asio::buffer(data), kTuple);
    boost::system::error_code ignored;
    to.close(ignored);
}

}  // namespace

awaitable<CommandOutcome> runCommand(asio::any_io_executor executor, CommandSpec spec) {
    const std::string& name = spec.argv.empty() ? spec.program : spec.argv[0];
    Pipes pipes;
    for (auto& pair : pipes.fds) {
        if (::pipe2(pair, O_CLOEXEC) != 0) {
            co_return CommandOutcome{
                false, {}, "cannot create pipes: " + std::string(std::strerror(errno))};
        }
    }
    // corrald holds sockets of every VM: the command must inherit nothing but its pipes.
    SpawnRequest request{spec.program, spec.argv,
                         &spec.env,    {pipes.fds[0][0], pipes.fds[1][1], pipes.fds[2][1]},
                         true,         false};
    pid_t pid = -1;
    int rc = spawnCommand(request, pid);
    if (rc != 0) {
        co_return CommandOutcome{false, {}, "cannot execute '" + name + "': " + std::strerror(rc)};
    }
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    ::close(pipes.take(0, 0));
    ::close(pipes.take(1, 1));
    ::close(pipes.take(2, 1));
    Descriptor in(executor, pipes.take(0, 1)), out(executor, pipes.take(1, 0)),
        err(executor, pipes.take(2, 0));
    std::string output, errors, failure;
    asio::steady_timer timer(executor);
    timer.expires_after(spec.timeout);
    bool overflow = false, unused = false;
    auto input = spec.input.value_or("");  // named: see the g++ 12 note in host_channel.cpp
    auto done =
        co_await ((drain(out, output, spec.maxOutput, pid, overflow) &&
                   drain(err, errors, kStderrTail, -1, unused) && feed(in, std::move(input))) ||
                  timer.async_wait(kTuple));
    if (done.index() == 1) {
        failure = "command '" + name + "' timed out after " + std::to_string(spec.timeout.count()) +
                  " ms";
    } else if (overflow) {
        failure = "command '" + name + "' wrote more than " + std::to_string(spec.maxOutput) +
                  " bytes of output";
    }
    if (!failure.empty()) ::kill(-pid, SIGKILL);
    // The pipes are closed; the leader exits now or is killed at the deadline.
    int status = 0;
    if (pidfd >= 0) {
        Descriptor exitWatch(executor, pidfd);
        auto waited = co_await (exitWatch.async_wait(Descriptor::wait_read, kTuple) ||
                                timer.async_wait(kTuple));
        if (waited.index() == 1 && failure.empty()) {
            failure = "command '" + name + "' timed out after closing its output";
            ::kill(-pid, SIGKILL);
            co_await exitWatch.async_wait(Descriptor::wait_read, kTuple);
        }
    }
    // pidfd readable (or pidfd unavailable and the pipes closed): reaping does not block for long.
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!failure.empty()) co_return CommandOutcome{false, {}, failure};
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        co_return CommandOutcome{true, std::move(output), {}};
    }
    co_return CommandOutcome{false, {}, describeFailure(name, status, errors)};
}

}  // namespace corral::agent

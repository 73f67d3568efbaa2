// Round trips per second over the negotiator host->guest channel of a TCG guest: a trivial
// execute (`true`) and list_commands, one call at a time through HostChannel, as corrald makes
// them. --quick runs a short pass for CI; figures are printed, never judged.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>

#include "agent/host_channel.hpp"
#include "tests/integration/agent/guest_vm.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace asio = boost::asio;

struct Figure {
    int calls = 0;
    int failures = 0;
    double seconds = 0;
};

// Calls `execute(true)` (or list_commands) back to back for `duration`.
asio::awaitable<Figure> measure(std::shared_ptr<corral::agent::HostChannel> channel, bool execute,
                                std::chrono::milliseconds duration) {
    Figure f;
    auto start = Clock::now();
    while (Clock::now() - start < duration) {
        bool ok = false;
        if (execute) {
            std::vector<std::string> argv{"true"};
            ok = static_cast<bool>(co_await channel->execute(std::move(argv), std::nullopt, 10s));
        } else {
            ok = static_cast<bool>(co_await channel->listCommands(10s));
        }
        ++f.calls;
        f.failures += ok ? 0 : 1;
    }
    f.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    co_return f;
}

void print(const char* what, const Figure& f) {
    std::printf("agent-bench: %-14s %8.1f round trips/s (%d calls in %.2f s, %d failed)\n", what,
                f.calls / f.seconds, f.calls, f.seconds, f.failures);
}

}  // namespace

int main(int argc, char** argv) {
    bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
    auto duration = quick ? std::chrono::milliseconds(2000) : std::chrono::milliseconds(10000);
    try {
        corral::test::GuestVm vm("pc");
        // The agent runs only commands from its directories, like the original.
        auto linked = vm.console().run("ln -s /bin/true /usr/lib/negotiator/commands/true", 20s);
        if (!linked || linked->status != 0) throw std::runtime_error("cannot install 'true'");
        asio::io_context io;
        auto channel = corral::agent::HostChannel::create(io.get_executor(), vm.hostToGuest());
        auto connected = corral::test::runOn(io, channel->connect(10s));
        if (!connected) throw std::runtime_error(connected.error().message);
        // Warm-up: the first exec of a binary in a fresh TCG guest is much slower.
        corral::test::runOn(io, measure(channel, true, 500ms));
        auto exec = corral::test::runOn(io, measure(channel, true, duration));
        auto list = corral::test::runOn(io, measure(channel, false, duration));
        std::printf(
            "agent-bench: method: HostChannel -> QEMU chardev socket -> virtio-serial -> "
            "negotiator-guest, sequential calls, qemu -machine pc,accel=tcg, 1 vCPU, "
            "%s pass\n",
            quick ? "quick (2 s)" : "full (10 s)");
        print("execute(true)", exec);
        print("list_commands", list);
        return exec.failures + list.failures == 0 ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "agent-bench: %s\n", e.what());
        return 1;
    }
}

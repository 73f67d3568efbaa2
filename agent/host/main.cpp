// negotiator-host: call a guest's agent (-c, -e) or answer a guest's calls (-d). With --socket the
// channel socket is used directly; otherwise GUEST names a corral instance and corrald, which owns
// the channels, makes the call over D-Bus.
#include <getopt.h>
#include <signal.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "agent/commands.hpp"
#include "agent/host/bus_client.hpp"
#include "agent/host_channel.hpp"
#include "agent/host_responder.hpp"
#include "agent/split.hpp"

namespace {

namespace asio = boost::asio;
using namespace corral::agent;

constexpr const char* kUsage = R"(Usage: negotiator-host [OPTIONS] GUEST_NAME

Communicate from a KVM/QEMU host system with running guest systems using a guest agent daemon
running inside the guests.

Supported options:
  -g, --list-guests        List the names of the guests corrald runs (state running).
  -c, --list-commands      List the commands that the guest exposes to its host.
  -e, --execute=COMMAND    Execute COMMAND inside GUEST_NAME and copy its standard output to ours;
                           a nonzero exit in the guest makes us exit nonzero.
  -t, --timeout=SECONDS    Seconds before a remote call times out. Default 10. 0 means never
                           with --socket, and corrald's default (60 s) through corrald.
  -d, --daemon             Answer the guest's calls on --socket (the guest-to-host channel) with
                           the commands in --commands-dir.
      --socket=PATH        Use this channel socket directly instead of asking corrald.
      --name=NAME          Guest name given to commands as NEGOTIATOR_GUEST (daemon mode).
      --commands-dir=DIR   Commands the guest may run (default /usr/lib/negotiator/commands).
      --bus-address=ADDR   Talk to corrald on this D-Bus address instead of the system bus.
  -v, --verbose            Accepted for compatibility with python-negotiator; no effect.
  -q, --quiet              Accepted for compatibility with python-negotiator; no effect.
  -h, --help               Show this message and exit.
)";

struct Options {
    char action = 0;
    std::string command, socket, name = "guest", commandsDir = kUserCommandsDir, busAddress;
    std::string guest;
    std::chrono::milliseconds timeout{10000};
};

// Runs one channel call on a private io_context; returns the exit code.
int viaSocket(const Options& o) {
    asio::io_context io;
    auto channel = HostChannel::create(io.get_executor(), o.socket);
    int code = 1;
    auto task = [](std::shared_ptr<HostChannel> channel, Options o,
                   int& code) -> asio::awaitable<void> {
        if (o.action == 'c') {
            auto names = co_await channel->listCommands(o.timeout);
            if (!names) {
                std::fprintf(stderr, "negotiator-host: %s\n", names.error().message.c_str());
                co_return;
            }
            for (const auto& n : *names) std::printf("%s\n", n.c_str());
        } else {
            auto argv = splitCommandLine(o.command);
            if (!argv || argv->empty()) {
                std::fprintf(stderr, "negotiator-host: cannot parse command '%s'\n",
                             o.command.c_str());
                co_return;
            }
            auto words = std::move(*argv);
            auto out = co_await channel->execute(std::move(words), std::nullopt, o.timeout);
            if (!out) {
                std::fprintf(stderr, "negotiator-host: %s\n", out.error().message.c_str());
                co_return;
            }
            std::fwrite(out->data(), 1, out->size(), stdout);
        }
        code = 0;
    };
    asio::co_spawn(io, task(channel, o, code), [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
    });
    io.run();
    return code;
}

int daemon(const Options& o) {
    asio::io_context io;
    HostResponder::Limits limits;
    if (o.timeout.count() > 0) limits.commandTimeout = o.timeout;
    auto responder =
        HostResponder::create(io.get_executor(), o.socket, o.name, o.commandsDir, limits);
    responder->start();
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) { responder->stop(); });
    io.run();
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    ::signal(SIGPIPE, SIG_IGN);
    enum { kSocket = 256, kName, kCommandsDir, kBusAddress };
    static const option options[] = {{"list-guests", no_argument, nullptr, 'g'},
                                     {"list-commands", no_argument, nullptr, 'c'},
                                     {"execute", required_argument, nullptr, 'e'},
                                     {"timeout", required_argument, nullptr, 't'},
                                     {"daemon", no_argument, nullptr, 'd'},
                                     {"socket", required_argument, nullptr, kSocket},
                                     {"name", required_argument, nullptr, kName},
                                     {"commands-dir", required_argument, nullptr, kCommandsDir},
                                     {"bus-address", required_argument, nullptr, kBusAddress},
                                     {"verbose", no_argument, nullptr, 'v'},
                                     {"quiet", no_argument, nullptr, 'q'},
                                     {"help", no_argument, nullptr, 'h'},
                                     {nullptr, 0, nullptr, 0}};
    Options o;
    for (int c; (c = getopt_long(argc, argv, "gce:t:dvqh", options, nullptr)) != -1;) {
        char* end = nullptr;
        double seconds = 0;
        switch (c) {
            case 'g':
            case 'c':
            case 'd':
                o.action = static_cast<char>(c);
                break;
            case 'e':
                o.action = 'e', o.command = optarg;
                break;
            case 't':
                seconds = std::strtod(optarg, &end);
                if (*end != '\0' || !(seconds >= 0 && seconds <= 31536000)) {
                    std::fprintf(stderr, "negotiator-host: invalid timeout '%s'\n", optarg);
                    return 2;
                }
                o.timeout = std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
                break;
            case kSocket:
                o.socket = optarg;
                break;
            case kName:
                o.name = optarg;
                break;
            case kCommandsDir:
                o.commandsDir = optarg;
                break;
            case kBusAddress:
                o.busAddress = optarg;
                break;
            case 'v':
            case 'q':
                break;  // accepted like the original's; errors always go to stderr
            case 'h':
                std::fputs(kUsage, stdout);
                return 0;
            default:
                std::fputs(kUsage, stderr);
                return 2;
        }
    }
    if (optind < argc) o.guest = argv[optind];
    if (o.action == 0) {
        std::fputs(kUsage, stderr);
        return 2;
    }
    if (o.action == 'd') {
        if (o.socket.empty()) {
            std::fputs("negotiator-host: --daemon needs --socket (corrald answers guests itself)\n",
                       stderr);
            return 2;
        }
        return daemon(o);
    }
    if (!o.socket.empty() && o.action != 'g') return viaSocket(o);
    BusClient bus(o.busAddress);
    if (o.action == 'g') return bus.listGuests();
    if (o.guest.empty()) {
        std::fputs("negotiator-host: GUEST_NAME is missing (or give --socket PATH)\n", stderr);
        return 2;
    }
    if (o.action == 'c') return bus.listCommands(o.guest);
    auto words = splitCommandLine(o.command);
    if (!words || words->empty()) {
        std::fprintf(stderr, "negotiator-host: cannot parse command '%s'\n", o.command.c_str());
        return 2;
    }
    return bus.execute(o.guest, *words, o.timeout);
}

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

#include "agent/cli_support.hpp"
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
  -t, --timeout=SECONDS    Seconds before a remote call times out; 0 or less: never. Default 10.
                           Daemon mode: the time limit of each command (default one hour).
  -d, --daemon             Answer the guest's calls on --socket (the guest-to-host channel) with
                           the commands in --commands-dir.
      --socket=PATH        Use this channel socket directly instead of asking corrald.
      --name=NAME          Guest name given to commands as NEGOTIATOR_GUEST (daemon mode).
      --commands-dir=DIR   Commands the guest may run (default /usr/lib/negotiator/commands).
      --max-output=BYTES   Daemon: largest command output returned (default 16777216, the
                           message limit).
      --bus-address=ADDR   Talk to corrald on this D-Bus address instead of the system bus.
  -v, --verbose            Accepted for compatibility with python-negotiator; no effect.
  -q, --quiet              Accepted for compatibility with python-negotiator; no effect.
  -h, --help               Show this message and exit.

Actions run in the order given, as in python-negotiator. Unlike it: SECONDS may have a fraction,
-d answers on one --socket instead of every libvirt guest, and runs only files of --commands-dir
(no built-in commands, no shell) with a bounded time and output.
)";

// Exit status of a command line the original refuses too (its getopt and assert error path).
constexpr int kBadUsage = 1;

int usageError(const std::string& message) {
    std::fprintf(stderr, "negotiator-host: %s (see --help)\n", message.c_str());
    return kBadUsage;
}

struct Action {
    char kind;            // 'g', 'c', 'e' or 'd'
    std::string command;  // 'e' only
};

struct Options {
    std::vector<Action> actions;
    std::string socket, name = "guest", commandsDir = kUserCommandsDir, busAddress;
    std::string guest;
    std::optional<std::chrono::milliseconds> timeout;
    std::size_t maxOutput = kDefaultMaxMessage;
    std::chrono::milliseconds callTimeout() const {
        return timeout.value_or(std::chrono::seconds(10));
    }
};

void print(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
}

// One call on the channel socket; returns the exit code.
int viaSocket(asio::io_context& io, const std::shared_ptr<HostChannel>& channel,
              const Action& action, std::chrono::milliseconds timeout) {
    std::optional<std::vector<std::string>> words;
    if (action.kind == 'e') {
        words = splitCommandLine(action.command);
        if (!words || words->empty()) {
            std::fprintf(stderr, "negotiator-host: cannot split command '%s'\n",
                         action.command.c_str());
            return 1;
        }
    }
    int code = 1;
    auto task = [](std::shared_ptr<HostChannel> channel,
                   std::optional<std::vector<std::string>> argv, std::chrono::milliseconds timeout,
                   int& code) -> asio::awaitable<void> {
        if (!argv) {
            auto names = co_await channel->listCommands(timeout);
            if (!names) {
                std::fprintf(stderr, "negotiator-host: %s\n", names.error().message.c_str());
                co_return;
            }
            print(printableList(*names));
        } else {
            auto out = co_await channel->execute(std::move(*argv), std::nullopt, timeout);
            if (!out) {
                std::fprintf(stderr, "negotiator-host: %s\n", out.error().message.c_str());
                co_return;
            }
            print(printableOutput(*out));
        }
        code = 0;
    };
    asio::co_spawn(io, task(channel, std::move(words), timeout, code), [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
    });
    io.restart();
    io.run();
    return code;
}

int daemon(const Options& o) {
    asio::io_context io;
    HostResponder::Limits limits;
    limits.commandTimeout = std::chrono::hours(1);
    if (o.timeout && o.timeout->count() > 0) limits.commandTimeout = *o.timeout;
    limits.maxOutput = o.maxOutput;
    auto responder =
        HostResponder::create(io.get_executor(), o.socket, o.name, o.commandsDir, limits);
    responder->start();
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) { responder->stop(); });
    io.run();
    return 0;
}

int viaBus(BusClient& bus, const Options& o, const Action& action) {
    if (action.kind == 'g') return bus.listGuests();
    if (action.kind == 'c') return bus.listCommands(o.guest);
    auto words = splitCommandLine(action.command);
    if (!words || words->empty()) {
        std::fprintf(stderr, "negotiator-host: cannot split command '%s'\n",
                     action.command.c_str());
        return 1;
    }
    return bus.execute(o.guest, *words, o.callTimeout());
}

int runActions(const Options& o) {
    asio::io_context io;
    std::shared_ptr<HostChannel> channel;
    std::optional<BusClient> bus;
    for (const auto& action : o.actions) {
        int code = 0;
        if (action.kind == 'd') {
            code = daemon(o);
        } else if (!o.socket.empty() && action.kind != 'g') {
            if (!channel) {
                channel = HostChannel::create(io.get_executor(), o.socket);
                // A late reply to another client's abandoned call may be waiting for us.
                channel->synchroniseBeforeNextCall();
            }
            code = viaSocket(io, channel, action, o.callTimeout());
        } else {
            if (!bus) bus.emplace(o.busAddress);
            code = viaBus(*bus, o, action);
        }
        if (code != 0) return code;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    ::signal(SIGPIPE, SIG_IGN);
    enum { kSocket = 256, kName, kCommandsDir, kBusAddress, kMaxOutput };
    static const option options[] = {{"list-guests", no_argument, nullptr, 'g'},
                                     {"list-commands", no_argument, nullptr, 'c'},
                                     {"execute", required_argument, nullptr, 'e'},
                                     {"timeout", required_argument, nullptr, 't'},
                                     {"daemon", no_argument, nullptr, 'd'},
                                     {"socket", required_argument, nullptr, kSocket},
                                     {"name", required_argument, nullptr, kName},
                                     {"commands-dir", required_argument, nullptr, kCommandsDir},
                                     {"max-output", required_argument, nullptr, kMaxOutput},
                                     {"bus-address", required_argument, nullptr, kBusAddress},
                                     {"verbose", no_argument, nullptr, 'v'},
                                     {"quiet", no_argument, nullptr, 'q'},
                                     {"help", no_argument, nullptr, 'h'},
                                     {nullptr, 0, nullptr, 0}};
    Options o;
    // "+": options end at the first operand, as with the original's getopt.
    for (int c; (c = getopt_long(argc, argv, "+gce:t:dvqh", options, nullptr)) != -1;) {
        char* end = nullptr;
        switch (c) {
            case 'g':
            case 'c':
            case 'd':
                o.actions.push_back({static_cast<char>(c), {}});
                break;
            case 'e':
                o.actions.push_back({'e', optarg});
                break;
            case 't':
                o.timeout = parseTimeout(optarg);
                if (!o.timeout) return usageError(std::string("invalid timeout '") + optarg + "'");
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
            case kMaxOutput:
                o.maxOutput = std::strtoull(optarg, &end, 10);
                if (*end != '\0' || *optarg == '\0' || *optarg == '-' || o.maxOutput == 0)
                    return usageError(std::string("invalid --max-output '") + optarg +
                                      "' (bytes, > 0)");
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
                return usageError("cannot parse the command line");
        }
    }
    if (o.actions.empty()) {
        std::fputs(kUsage, stdout);
        return 0;
    }
    auto operands = argc - optind;
    bool needsGuest = false, hasDaemon = false;
    for (const auto& a : o.actions) {
        needsGuest |= a.kind == 'c' || a.kind == 'e';
        hasDaemon |= a.kind == 'd';
    }
    if (operands > 1 || (needsGuest && o.socket.empty() && operands != 1))
        return usageError("give the guest's name as the one operand (or --socket PATH)");
    if (operands == 1) o.guest = argv[optind];
    if (hasDaemon && o.socket.empty())
        return usageError("--daemon needs --socket (corrald answers its guests itself)");
    return runActions(o);
}

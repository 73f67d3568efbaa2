// negotiator-guest: the guest agent daemon (-d) and the guest->host client (-l, -e).
#include <getopt.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "agent/cli_support.hpp"
#include "agent/commands.hpp"
#include "agent/guest/dispatcher.hpp"
#include "agent/guest/port.hpp"
#include "agent/split.hpp"

namespace {

using namespace corral::agent;
using namespace corral::agent::guest;

constexpr const char* kUsage = R"(Usage: negotiator-guest [OPTIONS]

Communicate from a KVM/QEMU guest system to its host or start the guest daemon to allow the
host to execute commands on its guests.

Supported options:
  -l, --list-commands      List the commands that the host exposes to its guests (sorted).
  -e, --execute=COMMAND    Execute COMMAND on the host and copy its standard output to ours;
                           a nonzero exit on the host makes us exit nonzero.
  -d, --daemon             Start the guest daemon answering the host's calls.
  -t, --timeout=SECONDS    Seconds before a remote call times out; 0 or less: never. Default 10.
                           Daemon mode: the time limit of each command (default one hour).
  -c, --character-device=PATH
                           Use PATH instead of the port found by name in
                           /sys/class/virtio-ports/*/name.
      --max-output=BYTES   Daemon: largest command output returned (default 16777216, the
                           message limit).
      --commands-dir=DIR   Daemon: the user commands the host may run (default
                           /usr/lib/negotiator/commands), looked up before the built-in
                           commands of /usr/lib/negotiator/builtin-commands.
      --commands-only      Daemon: run only commands from those two directories (otherwise
                           other names run from PATH).
  -v, --verbose            Increase logging verbosity (can be repeated).
  -q, --quiet              Decrease logging verbosity (can be repeated).
  -h, --help               Show this message and exit.

Only one action runs: -d before -l before -e, as in python-negotiator. Unlike it: SECONDS may
have a fraction, -l sorts, the daemon bounds each command's time and output, and runs names
found in neither commands directory from PATH unless --commands-only is given.
)";

// Exit status of a command line the original would refuse too (its getopt error path).
constexpr int kBadUsage = 1;

int usageError(const std::string& message) {
    std::fprintf(stderr, "negotiator-guest: %s (see --help)\n", message.c_str());
    return kBadUsage;
}

std::optional<std::filesystem::path> device(const std::string& given, const char* portName) {
    if (!given.empty()) return std::filesystem::path(given);
    auto found = findPort(portName);
    if (!found) log(-1, std::string("no virtio port named ") + portName);
    return found;
}

int callTheHost(const std::filesystem::path& port, bool list, const std::string& command,
                std::chrono::milliseconds timeout) {
    Call call{"list_commands", {}, {}};
    if (!list) {
        auto words = splitCommandLine(command);
        if (!words || words->empty()) {
            std::fprintf(stderr, "negotiator-guest: cannot split command '%s'\n", command.c_str());
            return 1;
        }
        call = Call{"execute", *words, {}};
    }
    auto reply = callHost(port, call, timeout);
    if (!reply.success) {
        std::fprintf(stderr, "negotiator-guest: %s\n", reply.error.c_str());
        return 1;
    }
    std::string out;
    if (auto* names = std::get_if<std::vector<std::string>>(&reply.result)) {
        out = printableList(*names);
    } else if (auto* text = std::get_if<std::string>(&reply.result)) {
        out = printableOutput(*text);
    } else {
        out = list ? printableList({}) : printableOutput("");
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    ::signal(SIGPIPE, SIG_IGN);
    static const option options[] = {{"list-commands", no_argument, nullptr, 'l'},
                                     {"execute", required_argument, nullptr, 'e'},
                                     {"daemon", no_argument, nullptr, 'd'},
                                     {"timeout", required_argument, nullptr, 't'},
                                     {"character-device", required_argument, nullptr, 'c'},
                                     {"max-output", required_argument, nullptr, 'm'},
                                     {"commands-dir", required_argument, nullptr, 'C'},
                                     {"commands-only", no_argument, nullptr, 'o'},
                                     {"verbose", no_argument, nullptr, 'v'},
                                     {"quiet", no_argument, nullptr, 'q'},
                                     {"help", no_argument, nullptr, 'h'},
                                     {nullptr, 0, nullptr, 0}};
    bool list = false, daemon = false;
    std::string command, devicePath;
    std::optional<std::chrono::milliseconds> timeout;
    GuestCommands commands{{kUserCommandsDir, kBuiltinCommandsDir}, false, {}};
    // "+": options end at the first operand, as with the original's getopt.
    for (int c; (c = getopt_long(argc, argv, "+le:dt:c:vqh", options, nullptr)) != -1;) {
        char* end = nullptr;
        switch (c) {
            case 'l':
                list = true;
                break;
            case 'd':
                daemon = true;
                break;
            case 'e':
                command = optarg;
                break;
            case 't':
                timeout = parseTimeout(optarg);
                if (!timeout) return usageError(std::string("invalid timeout '") + optarg + "'");
                break;
            case 'c':
                devicePath = optarg;
                break;
            case 'o':
                commands.commandsOnly = true;
                break;
            case 'C':
                commands.dirs.front() = optarg;
                break;
            case 'm':
                commands.limits.maxOutput = std::strtoull(optarg, &end, 10);
                if (*end != '\0' || *optarg == '\0' || *optarg == '-' ||
                    commands.limits.maxOutput == 0)
                    return usageError(std::string("invalid --max-output '") + optarg +
                                      "' (bytes, > 0)");
                break;
            case 'v':
                ++logLevel;
                break;
            case 'q':
                --logLevel;
                break;
            case 'h':
                std::fputs(kUsage, stdout);
                return 0;
            default:
                return usageError("cannot parse the command line");
        }
    }
    if (!daemon && !list && command.empty()) {
        std::fputs(kUsage, stdout);
        return 0;
    }
    if (daemon) {
        if (timeout && timeout->count() > 0) commands.limits.timeout = *timeout;
        auto port = device(devicePath, kHostToGuestPort);
        if (!port) return 1;
        HangupWatch hangup;
        commands.limits.hangup = &hangup;
        ServeOptions options;
        options.hangup = &hangup;
        return serve(*port, makeDispatcher(std::move(commands)), options);
    }
    auto port = device(devicePath, kGuestToHostPort);
    if (!port) return 1;
    return callTheHost(*port, list, command, timeout.value_or(std::chrono::seconds(10)));
}

// negotiator-guest: the guest agent daemon (-d) and the guest->host client (-l, -e).
#include <getopt.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "agent/commands.hpp"
#include "agent/guest/port.hpp"
#include "agent/guest/run_command.hpp"
#include "agent/split.hpp"

namespace {

using namespace corral::agent;
using namespace corral::agent::guest;

constexpr const char* kUsage = R"(Usage: negotiator-guest [OPTIONS]

Communicate from a KVM/QEMU guest system to its host or start the guest daemon to allow the
host to execute commands on its guests.

Supported options:
  -l, --list-commands      List the commands that the host exposes to its guests.
  -e, --execute=COMMAND    Execute COMMAND on the host and copy its standard output to ours;
                           a nonzero exit on the host makes us exit nonzero.
  -d, --daemon             Start the guest daemon answering the host's calls.
  -t, --timeout=SECONDS    Seconds before a remote call times out (0 = never). In daemon mode:
                           the time limit of each executed command (0 = one hour). Default 10.
  -c, --character-device=PATH
                           Use PATH instead of the port found by name in
                           /sys/class/virtio-ports/*/name.
      --max-output=BYTES   Daemon: largest command output returned (default 4194304).
      --commands-only      Daemon: run only commands from /usr/lib/negotiator/commands and
                           /usr/lib/negotiator/builtin-commands (otherwise other names run
                           from PATH).
  -v, --verbose            Increase logging verbosity (can be repeated).
  -q, --quiet              Decrease logging verbosity (can be repeated).
  -h, --help               Show this message and exit.
)";

Dispatcher makeDispatcher(const RunLimits& limits, bool commandsOnly) {
    Dispatcher dispatcher;
    dispatcher.add("list_commands", [](const Call& call) {
        if (!call.args.empty() || !call.kw.empty()) {
            return Reply::fail("list_commands() takes no arguments");
        }
        return Reply::ok(listCommands({kUserCommandsDir, kBuiltinCommandsDir}));
    });
    dispatcher.add("execute", [limits, commandsOnly](const Call& call) {
        if (call.args.empty()) return Reply::fail("execute() needs a command name");
        for (const auto& [key, value] : call.kw) {
            if (key != "input")
                return Reply::fail("execute() got an unexpected keyword '" + key + "'");
        }
        auto input = call.kw.contains("input") ? call.kw.at("input") : std::nullopt;
        // The original's lookup: basename of argv[0] in the user, then the built-in directory.
        // Beyond it, a name found in neither runs from PATH (the host owns its guest anyway, as
        // with qemu-guest-agent's guest-exec) unless --commands-only keeps the original's limit.
        auto name = std::filesystem::path(call.args[0]).filename().string();
        auto found = findCommand(name, {kUserCommandsDir, kBuiltinCommandsDir});
        if (!found && commandsOnly) {
            return Reply::fail("unknown command '" + name + "' (not in " + kUserCommandsDir +
                               " or " + kBuiltinCommandsDir + ")");
        }
        auto program = found ? found->string() : call.args[0];
        log(1, "execute " + call.args[0] + " (" + program + ")");
        auto result = runCommand(program, call.args, input, limits);
        if (!result.ok) return Reply::fail(result.error);
        return Reply::ok(sanitizeUtf8(result.output));
    });
    return dispatcher;
}

std::optional<std::filesystem::path> device(const std::string& given, const char* portName) {
    if (!given.empty()) return std::filesystem::path(given);
    auto found = findPort(portName);
    if (!found) log(-1, std::string("no virtio port named ") + portName);
    return found;
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
                                     {"commands-only", no_argument, nullptr, 'o'},
                                     {"verbose", no_argument, nullptr, 'v'},
                                     {"quiet", no_argument, nullptr, 'q'},
                                     {"help", no_argument, nullptr, 'h'},
                                     {nullptr, 0, nullptr, 0}};
    char action = 0;
    std::string command, devicePath;
    double timeout = 10;
    RunLimits limits;
    bool commandsOnly = false;
    for (int c; (c = getopt_long(argc, argv, "le:dt:c:vqh", options, nullptr)) != -1;) {
        char* end = nullptr;
        switch (c) {
            case 'l':
            case 'd':
                action = static_cast<char>(c);
                break;
            case 'e':
                action = 'e', command = optarg;
                break;
            case 't':
                timeout = std::strtod(optarg, &end);
                if (*end != '\0' || !(timeout >= 0 && timeout <= 31536000)) {
                    std::fprintf(stderr, "negotiator-guest: invalid timeout '%s'\n", optarg);
                    return 2;
                }
                break;
            case 'c':
                devicePath = optarg;
                break;
            case 'o':
                commandsOnly = true;
                break;
            case 'm':
                limits.maxOutput = std::strtoull(optarg, &end, 10);
                if (*end != '\0' || *optarg == '\0' || *optarg == '-' || limits.maxOutput == 0) {
                    std::fprintf(stderr,
                                 "negotiator-guest: invalid --max-output '%s' (bytes, > 0)\n",
                                 optarg);
                    return 2;
                }
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
                std::fputs(kUsage, stderr);
                return 2;
        }
    }
    if (action == 0) {
        std::fputs(kUsage, stderr);
        return 2;
    }
    auto timeoutMs = std::chrono::milliseconds(static_cast<long long>(timeout * 1000));
    if (action == 'd') {
        limits.timeout = timeoutMs.count() > 0 ? timeoutMs : std::chrono::hours(1);
        auto port = device(devicePath, kHostToGuestPort);
        if (!port) return 1;
        return serve(*port, makeDispatcher(limits, commandsOnly), ServeOptions{});
    }
    auto port = device(devicePath, kGuestToHostPort);
    if (!port) return 1;
    Call call;
    if (action == 'l') {
        call.method = "list_commands";
    } else {
        auto words = splitCommandLine(command);
        if (!words || words->empty()) {
            std::fprintf(stderr, "negotiator-guest: cannot parse command '%s'\n", command.c_str());
            return 2;
        }
        call = Call{"execute", *words, {}};
    }
    auto reply = callHost(*port, call, timeoutMs);
    if (!reply.success) {
        std::fprintf(stderr, "negotiator-guest: %s\n", reply.error.c_str());
        return 1;
    }
    if (auto* list = std::get_if<std::vector<std::string>>(&reply.result)) {
        for (const auto& name : *list) std::printf("%s\n", name.c_str());
    } else if (auto* text = std::get_if<std::string>(&reply.result)) {
        std::fwrite(text->data(), 1, text->size(), stdout);
    }
    return 0;
}

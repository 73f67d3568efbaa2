// corral-qmp: one-shot QMP commands, or a line-based shell, against a QEMU monitor socket.
#include "monitor/qmp_client.hpp"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace {

using namespace corral::monitor;

constexpr int kExitOk = 0;
constexpr int kExitQmpError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitConnect = 3;

constexpr const char* kUsage = R"(Usage: corral-qmp [OPTIONS] SOCKET [COMMAND [JSON-ARGS]]

Sends one QMP command to the QEMU monitor at SOCKET and prints the reply as JSON.
Without COMMAND, reads "COMMAND [JSON-ARGS]" lines from stdin (a small qmp-shell) and
prints each reply, plus the events that arrived, one JSON object per event line.

Options:
  --timeout DURATION  connect window, greeting wait and per-command timeout
                      (e.g. 500ms, 10s; default 10s; at most 86400s)
  --hmp               COMMAND is an HMP line, sent via human-monitor-command
  --compact           print JSON on one line
  --help              show this help

Exit status: 0 ok, 1 QMP error (or timeout/disconnect), 2 usage, 3 cannot connect.
Example: corral-qmp /tmp/vm.qmp device_del '{"id": "disk1"}'
QEMU serves one monitor client at a time: for a VM corrald runs, use `corralctl monitor NAME JSON`
(corral-qmp on its socket waits until corrald lets go of it).
)";

struct Options {
    std::string socket;
    std::optional<std::string> command;
    std::string args;
    std::chrono::milliseconds timeout = 10s;
    bool hmp = false;
    bool compact = false;
};

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text) {
    long long value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || value <= 0) return std::nullopt;
    std::string_view unit(end, text.data() + text.size() - end);
    // At most a day: more is a typo, and it would overflow a deadline.
    constexpr long long kMaxMs = 86'400'000;
    if ((unit.empty() || unit == "ms") && value <= kMaxMs) return std::chrono::milliseconds(value);
    if (unit == "s" && value <= kMaxMs / 1000) return std::chrono::seconds(value);
    return std::nullopt;
}

// Returns the options, or an exit code (usage error, or 0 after --help).
std::variant<Options, int> parseOptions(int argc, char** argv) {
    Options options;
    std::vector<std::string> positional;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::fputs(kUsage, stdout);
            return kExitOk;
        } else if (arg == "--timeout" && i + 1 >= argc) {
            std::fprintf(stderr, "corral-qmp: --timeout needs a value (e.g. 500ms, 10s)\n");
            return kExitUsage;
        } else if (arg == "--timeout") {
            auto duration = parseDuration(argv[++i]);
            if (!duration) {
                std::fprintf(stderr, "corral-qmp: bad --timeout '%s' (e.g. 500ms, 10s)\n", argv[i]);
                return kExitUsage;
            }
            options.timeout = *duration;
        } else if (arg == "--hmp") {
            options.hmp = true;
        } else if (arg == "--compact") {
            options.compact = true;
        } else if (arg.starts_with("--")) {
            std::fprintf(stderr, "corral-qmp: unknown option %s\n%s", argv[i], kUsage);
            return kExitUsage;
        } else {
            positional.emplace_back(arg);
        }
    }
    if (positional.empty() || positional.size() > 3) {
        std::fputs(kUsage, stderr);
        return kExitUsage;
    }
    options.socket = positional[0];
    if (positional.size() >= 2) options.command = positional[1];
    if (positional.size() == 3) options.args = positional[2];
    return options;
}

// Runs the io_context until `task` completes; the client bounds every wait itself.
template <class T>
T runUntilDone(boost::asio::io_context& io, awaitable<T> task) {
    std::optional<T> out;
    boost::asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
        if (e) std::rethrow_exception(e);
        out.emplace(std::move(value));
    });
    while (!out) {
        if (io.stopped()) io.restart();
        io.run_one();
    }
    return std::move(*out);
}

std::string render(const rapidjson::Value& value, bool compact) {
    if (compact) return toJsonString(value);
    rapidjson::StringBuffer buffer;
    rapidjson::PrettyWriter<rapidjson::StringBuffer> writer(buffer);
    writer.SetIndent(' ', 2);
    value.Accept(writer);
    return std::string(buffer.GetString(), buffer.GetSize());
}

// Sends one command (QMP with JSON args, or HMP); prints the reply; returns the exit code.
int runCommand(boost::asio::io_context& io, QmpClient& client, const Options& options,
               const std::string& command, const std::string& argsText) {
    if (options.hmp) {
        std::string line = argsText.empty() ? command : command + " " + argsText;
        auto text = runUntilDone(io, client.humanMonitorCommand(line, options.timeout));
        if (!text) {
            std::fprintf(stderr, "corral-qmp: %s\n", text.error().message.c_str());
            return kExitQmpError;
        }
        std::fputs(text->c_str(), stdout);
        return kExitOk;
    }
    Json args;
    if (!argsText.empty()) {
        auto parsed = parseJson(argsText);
        if (!parsed || !parsed->IsObject()) {
            std::fprintf(stderr, "corral-qmp: arguments must be a JSON object%s%s\n",
                         parsed ? "" : ": ", parsed ? "" : parsed.error().message.c_str());
            return kExitUsage;
        }
        args = std::move(*parsed);
    }
    auto reply = runUntilDone(io, client.execute(command, std::move(args), options.timeout));
    if (!reply) {
        std::fprintf(stderr, "corral-qmp: %s\n", reply.error().message.c_str());
        return kExitQmpError;
    }
    std::printf("%s\n", render(*reply, options.compact).c_str());
    return kExitOk;
}

// Waits for the next stdin line while the io_context keeps running, so events are printed as
// they arrive rather than at the next prompt. False at the end of input or when QEMU went away.
bool nextLine(boost::asio::io_context& io, QmpClient& client, std::string& pending,
              std::string& line) {
    for (;;) {
        if (auto end = pending.find('\n'); end != std::string::npos) {
            line = pending.substr(0, end);
            pending.erase(0, end + 1);
            return true;
        }
        io.restart();
        io.poll();
        std::fflush(stdout);
        if (!client.connected()) return false;
        pollfd input{STDIN_FILENO, POLLIN, 0};
        int ready = ::poll(&input, 1, 50);
        if (ready <= 0) continue;  // timeout or EINTR: deliver events, look again
        char buffer[4096];
        auto n = ::read(STDIN_FILENO, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (pending.empty()) return false;
            line = std::exchange(pending, {});
            return true;
        }
        pending.append(buffer, static_cast<std::size_t>(n));
    }
}

int runShell(boost::asio::io_context& io, QmpClient& client, const Options& options) {
    auto subscription = client.subscribe([](const QmpEvent& event) {
        Json line =
            JsonObject()
                .set("event", event.name)
                .set("data", event.data)
                .set("timestamp",
                     JsonObject().set("seconds", event.seconds).set("microseconds", event.micros))
                .take();
        std::printf("%s\n", toJsonString(line).c_str());
    });
    const bool interactive = ::isatty(STDIN_FILENO);
    std::string line, pending;
    for (;;) {
        if (interactive) std::fputs("(QEMU) ", stdout);
        std::fflush(stdout);
        if (!nextLine(io, client, pending, line)) {
            if (client.connected()) return kExitOk;
            std::fprintf(stderr, "corral-qmp: connection to QEMU lost\n");
            return kExitQmpError;
        }
        auto start = line.find_first_not_of(" \t");
        if (start == std::string::npos) continue;
        auto split = line.find_first_of(" \t", start);
        std::string command = line.substr(start, split - start);
        std::string args = split == std::string::npos ? "" : line.substr(split + 1);
        runCommand(io, client, options, command, args);
    }
}

}  // namespace

int main(int argc, char** argv) {
    auto parsed = parseOptions(argc, argv);
    if (auto* code = std::get_if<int>(&parsed)) return *code;
    const auto& options = std::get<Options>(parsed);

    boost::asio::io_context io;
    auto client = QmpClient::create(io.get_executor());
    auto connected =
        runUntilDone(io, client->connect(options.socket, options.timeout, options.timeout));
    if (!connected) {
        std::fprintf(stderr, "corral-qmp: %s\n", connected.error().message.c_str());
        return kExitConnect;
    }
    int code = options.command ? runCommand(io, *client, options, *options.command, options.args)
                               : runShell(io, *client, options);
    client->close();
    return code;
}

#include "supervisor/ctl_exec.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "supervisor/ctl_output.hpp"

namespace corral::supervisor::ctl {

namespace {

constexpr std::uint64_t kReplyMargin = 10'000'000;  // µs beyond the guest's own timeout

// All of stdin, unless it is a terminal (an interactive corralctl exec must not wait for ^D).
std::string readInput() {
    std::string input;
    if (::isatty(STDIN_FILENO)) return input;
    char buffer[65536];
    for (;;) {
        ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            // stdin closed or not readable (EBADF): nothing to pass.
            if (errno == EBADF) return input;
            throw CtlError(kFailed, std::string("cannot read stdin: ") + std::strerror(errno));
        }
        if (n == 0) return input;
        input.append(buffer, static_cast<std::size_t>(n));
        if (input.size() > kMaxExecInput)
            throw CtlError(kUsage, "stdin is larger than " + std::to_string(kMaxExecInput >> 20) +
                                       " MiB, the most exec passes to the guest");
    }
}

int appendArgv(sd_bus_message* m, const std::vector<std::string>& argv) {
    int r = sd_bus_message_open_container(m, 'a', "s");
    for (auto it = argv.begin(); r >= 0 && it != argv.end(); ++it)
        r = sd_bus_message_append(m, "s", it->c_str());
    return r < 0 ? r : sd_bus_message_close_container(m);
}

std::string readBytes(const MessageRef& reply) {
    const void* data = nullptr;
    size_t size = 0;
    check(sd_bus_message_read_array(reply.get(), 'y', &data, &size), "bad reply");
    return std::string(static_cast<const char*>(data), size);
}

void writeAll(FILE* stream, const std::string& bytes) {
    if (!bytes.empty()) std::fwrite(bytes.data(), 1, bytes.size(), stream);
    std::fflush(stream);
}

// The original's execute: text in, the command's stdout (stripped when one line) out.
int executeText(Client& client, const std::string& name, const std::vector<std::string>& argv,
                const std::string& input, std::uint64_t timeoutUsec, bool json) {
    auto reply = client.callInstance(
        name, "GuestExecute", timeoutUsec + kReplyMargin, [&](sd_bus_message* m) {
            int r = appendArgv(m, argv);
            return r < 0 ? r : sd_bus_message_append(m, "st", input.c_str(), timeoutUsec);
        });
    const char* text = "";
    check(sd_bus_message_read(reply.get(), "s", &text), "bad reply");
    std::string output = text;
    // The agent strips a one-line output, as python-negotiator's does: the line ends here.
    if (!json && !output.empty() && output.back() != '\n') output += '\n';
    if (json)
        printValue("output", output, true);
    else
        writeAll(stdout, output);
    return kOk;
}

}  // namespace

int runExec(Client& client, const std::string& name, const std::vector<std::string>& argv,
            std::uint64_t timeoutUsec, bool json) {
    auto input = readInput();
    MessageRef reply;
    try {
        reply = client.callInstance(
            name, "GuestRun", timeoutUsec + kReplyMargin, [&](sd_bus_message* m) {
                int r = appendArgv(m, argv);
                if (r >= 0) r = sd_bus_message_append_array(m, 'y', input.data(), input.size());
                return r < 0 ? r : sd_bus_message_append(m, "t", timeoutUsec);
            });
    } catch (const CtlError& e) {
        if (e.dbusError != "org.corral1.Error.NotSupported") throw;
        // Text only: a NUL would end the string the original receives.
        if (input.find('\0') != std::string::npos)
            throw CtlError(kFailed,
                           name + "'s guest agent takes text input only (" + e.what() + ")");
        return executeText(client, name, argv, input, timeoutUsec, json);
    }
    std::uint32_t status = 0;
    check(sd_bus_message_read(reply.get(), "u", &status), "bad reply");
    auto out = readBytes(reply);
    auto err = readBytes(reply);
    if (json) {
        std::printf("{\"exit_status\":%u,\"stdout\":%s,\"stderr\":%s}\n", status,
                    jsonQuote(out).c_str(), jsonQuote(err).c_str());
    } else {
        writeAll(stdout, out);
        writeAll(stderr, err);
    }
    return static_cast<int>(status);
}

}  // namespace corral::supervisor::ctl

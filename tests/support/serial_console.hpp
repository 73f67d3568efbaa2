// Drives the guest's serial console (a QEMU chardev UNIX socket) from a test: wait for a line
// the guest prints, run a shell command in the guest and collect its output. Every wait is bounded.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <regex>
#include <string>

namespace corral::test {

class SerialConsole {
  public:
    // Connects to the socket, retrying until it exists and accepts (bounded by `timeout`).
    explicit SerialConsole(const std::filesystem::path& socket,
                           std::chrono::milliseconds timeout = std::chrono::seconds(10));
    ~SerialConsole();
    SerialConsole(const SerialConsole&) = delete;
    SerialConsole& operator=(const SerialConsole&) = delete;

    // Reads until `pattern` matches the text received since the last match; returns the text up
    // to and including the match, or nullopt on timeout or EOF.
    std::optional<std::string> waitFor(const std::regex& pattern,
                                       std::chrono::milliseconds timeout);

    void send(const std::string& text);

    // Runs `command` in the guest shell; returns its output (stdout+stderr) and exit code, or
    // nullopt on timeout.
    struct Output {
        std::string text;
        int status;
    };
    std::optional<Output> run(const std::string& command, std::chrono::milliseconds timeout);

    // Everything received so far (for failure messages).
    const std::string& transcript() const { return transcript_; }

  private:
    int fd_ = -1;
    std::string pending_;
    std::string transcript_;
    unsigned sequence_ = 0;
};

}  // namespace corral::test

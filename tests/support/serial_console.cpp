#include "tests/support/serial_console.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <thread>

namespace corral::test {

using Clock = std::chrono::steady_clock;

SerialConsole::SerialConsole(const std::filesystem::path& socket,
                             std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket.c_str(), sizeof(addr.sun_path) - 1);
    while (true) {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) return;
        ::close(fd_);
        fd_ = -1;
        if (Clock::now() >= deadline) {
            throw std::runtime_error("cannot connect to serial console " + socket.string());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

SerialConsole::~SerialConsole() {
    if (fd_ >= 0) ::close(fd_);
}

std::optional<std::string> SerialConsole::waitFor(const std::regex& pattern,
                                                  std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (true) {
        std::smatch m;
        if (std::regex_search(pending_, m, pattern)) {
            auto end = static_cast<size_t>(m.position(0) + m.length(0));
            std::string upto = pending_.substr(0, end);
            pending_.erase(0, end);
            return upto;
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return std::nullopt;
        pollfd p{fd_, POLLIN, 0};
        int r = ::poll(&p, 1, static_cast<int>(left.count()));
        if (r <= 0) continue;
        char buf[4096];
        ssize_t n = ::read(fd_, buf, sizeof(buf));
        if (n <= 0) return std::nullopt;
        pending_.append(buf, static_cast<size_t>(n));
        transcript_.append(buf, static_cast<size_t>(n));
    }
}

void SerialConsole::send(const std::string& text) {
    size_t off = 0;
    while (off < text.size()) {
        ssize_t n = ::write(fd_, text.data() + off, text.size() - off);
        if (n <= 0) throw std::runtime_error("serial console write failed");
        off += static_cast<size_t>(n);
    }
}

std::optional<SerialConsole::Output> SerialConsole::run(const std::string& command,
                                                        std::chrono::milliseconds timeout) {
    // Markers are built by the guest shell (the echo of the typed line does not contain them
    // in this form), so the output between them is exactly the command's.
    unsigned seq = ++sequence_;
    std::string tag = "CT" + std::to_string(seq);
    send("echo " + tag + "''BEGIN; " + command + "; echo " + tag + "''END $?\n");
    if (!waitFor(std::regex(tag + "BEGIN\r?\n"), timeout)) return std::nullopt;
    auto out = waitFor(std::regex(tag + "END ([0-9]+)"), timeout);
    if (!out) return std::nullopt;
    std::smatch m;
    std::regex_search(*out, m, std::regex(tag + "END ([0-9]+)"));
    Output result{out->substr(0, static_cast<size_t>(m.position(0))), std::stoi(m[1].str())};
    std::erase(result.text, '\r');
    return result;
}

}  // namespace corral::test

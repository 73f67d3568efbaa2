#include "tests/integration/migration/tick_reader.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fcntl.h>

#include <cstring>
#include <regex>
#include <stdexcept>

namespace corral::test {

TickReader::TickReader(const std::filesystem::path& socket, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, socket.c_str(), sizeof address.sun_path - 1);
    while (true) {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) break;
        ::close(fd_);
        fd_ = -1;
        if (std::chrono::steady_clock::now() >= deadline)
            throw std::runtime_error("cannot connect to " + socket.string());
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (::pipe2(stop_, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    thread_ = std::thread([this] { run(); });
}

TickReader::~TickReader() {
    char byte = 0;
    if (::write(stop_[1], &byte, 1) < 0) {
    }
    thread_.join();
    ::close(fd_);
    ::close(stop_[0]);
    ::close(stop_[1]);
}

void TickReader::run() {
    std::string pending;
    char buffer[4096];
    while (true) {
        pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_[0], POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) return;
        if (fds[1].revents) return;
        ssize_t n = ::read(fd_, buffer, sizeof buffer);
        if (n <= 0) return;
        auto now = std::chrono::steady_clock::now();
        pending.append(buffer, static_cast<std::size_t>(n));
        std::size_t end;
        while ((end = pending.find('\n')) != std::string::npos) {
            std::string line = pending.substr(0, end);
            if (!line.empty() && line.back() == '\r') line.pop_back();
            pending.erase(0, end + 1);
            std::lock_guard lock(mutex_);
            lines_.push_back({now, std::move(line)});
        }
    }
}

std::vector<TickReader::Line> TickReader::lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
}

std::vector<std::pair<std::chrono::steady_clock::time_point, long>> ticks(
    const std::vector<TickReader::Line>& lines) {
    static const std::regex tick(R"(^tick (\d+)$)");
    std::vector<std::pair<std::chrono::steady_clock::time_point, long>> out;
    for (const auto& line : lines) {
        std::smatch m;
        if (std::regex_match(line.text, m, tick)) out.emplace_back(line.at, std::stol(m[1]));
    }
    return out;
}

}  // namespace corral::test

#include "tests/bench/monitor/raw_qmp_client.hpp"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace corral::bench {

RawQmpClient::RawQmpClient(const std::string& socketPath) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socketPath.c_str(), sizeof(addr.sun_path) - 1);
    // QEMU binds the socket a moment before it listens: retry refusals for a bounded time.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
            break;
        }
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
        if (std::chrono::steady_clock::now() > deadline) {
            throw std::runtime_error("raw client cannot connect to " + socketPath);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    // Every read is bounded: a qemu that stops answering fails the bench instead of hanging it.
    timeval timeout{30, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    readLine();  // greeting
    if (roundTrip(R"({"execute": "qmp_capabilities"})").find("return") == std::string::npos) {
        throw std::runtime_error("raw client: qmp_capabilities failed");
    }
}

RawQmpClient::~RawQmpClient() {
    if (fd_ >= 0) ::close(fd_);
}

std::string RawQmpClient::roundTrip(const std::string& line) {
    std::string out = line + "\r\n";
    std::size_t done = 0;
    while (done < out.size()) {
        ssize_t n = ::send(fd_, out.data() + done, out.size() - done, MSG_NOSIGNAL);
        if (n <= 0) throw std::runtime_error("raw client: write failed");
        done += static_cast<std::size_t>(n);
    }
    return readLine();
}

std::string RawQmpClient::readLine() {
    for (;;) {
        auto newline = buffer_.find('\n');
        if (newline != std::string::npos) {
            std::string line = buffer_.substr(0, newline);
            buffer_.erase(0, newline + 1);
            return line;
        }
        char chunk[4096];
        ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
        if (n < 0)
            throw std::runtime_error(errno == EAGAIN
                                         ? "raw client: no reply within 30 s"
                                         : "raw client: " + std::string(strerror(errno)));
        if (n == 0) throw std::runtime_error("raw client: connection closed");
        buffer_.append(chunk, static_cast<std::size_t>(n));
    }
}

}  // namespace corral::bench

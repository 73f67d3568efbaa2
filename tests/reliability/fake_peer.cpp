#include "tests/reliability/fake_peer.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace corral::test {

bool PeerConnection::stopping() const {
    pollfd stop{stopFd_, POLLIN, 0};
    return ::poll(&stop, 1, 0) > 0;
}

bool PeerConnection::waitFor(short events, std::chrono::milliseconds timeout) const {
    pollfd fds[2] = {{fd_, events, 0}, {stopFd_, POLLIN, 0}};
    int n = ::poll(fds, 2, static_cast<int>(timeout.count()));
    if (n <= 0 || fds[1].revents != 0) return false;
    return (fds[0].revents & (events | POLLHUP | POLLERR)) != 0;
}

bool PeerConnection::write(std::string_view bytes) {
    while (!bytes.empty()) {
        // A client that stops reading must not wedge the peer: give up after a while.
        if (!waitFor(POLLOUT, std::chrono::seconds(10))) return false;
        ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n <= 0) return false;
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

std::optional<std::string> PeerConnection::read(std::chrono::milliseconds timeout) {
    if (!waitFor(POLLIN, timeout)) return std::nullopt;
    std::string buffer(65536, '\0');
    ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (n <= 0) return std::nullopt;
    buffer.resize(static_cast<std::size_t>(n));
    return buffer;
}

void PeerConnection::holdOpen() {
    char sink[4096];
    while (waitFor(POLLIN, std::chrono::seconds(60))) {
        if (::recv(fd_, sink, sizeof sink, MSG_DONTWAIT) == 0) return;
    }
}

FakePeer::FakePeer(std::filesystem::path path, Script script)
    : path_(std::move(path)), script_(std::move(script)) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path_.native().size() >= sizeof address.sun_path) {
        throw std::runtime_error("socket path too long: " + path_.native());
    }
    std::strcpy(address.sun_path, path_.c_str());
    listenFd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    stopFd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (listenFd_ < 0 || stopFd_ < 0 ||
        ::bind(listenFd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listenFd_, 4) != 0) {
        auto why = std::string(std::strerror(errno));
        stop();
        throw std::runtime_error("fake peer cannot listen on " + path_.native() + ": " + why);
    }
    thread_ = std::thread([this] { run(); });
}

FakePeer::~FakePeer() {
    stop();
}

void FakePeer::stop() {
    if (stopFd_ >= 0) {
        std::uint64_t one = 1;
        (void)!::write(stopFd_, &one, sizeof one);
    }
    if (thread_.joinable()) thread_.join();
    for (int* fd : {&listenFd_, &stopFd_}) {
        if (*fd >= 0) ::close(*fd);
        *fd = -1;
    }
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
}

void FakePeer::run() {
    for (;;) {
        pollfd fds[2] = {{listenFd_, POLLIN, 0}, {stopFd_, POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
        if (fds[1].revents != 0) return;
        if ((fds[0].revents & POLLIN) == 0) continue;
        int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        ++accepted_;
        PeerConnection connection(fd, stopFd_);
        script_(connection);
        ::close(fd);
    }
}

std::size_t residentBytes() {
    std::ifstream status("/proc/self/status");
    std::string key;
    while (status >> key) {
        if (key == "VmRSS:") {
            std::size_t kib = 0;
            status >> kib;
            return kib * 1024;
        }
        status.ignore(1 << 20, '\n');
    }
    return 0;
}

}  // namespace corral::test

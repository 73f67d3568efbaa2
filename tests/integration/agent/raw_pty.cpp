#include "tests/integration/agent/raw_pty.hpp"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include <stdexcept>

namespace corral::test {

using Clock = std::chrono::steady_clock;

RawPty::RawPty() {
    master_ = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master_ < 0 || ::grantpt(master_) != 0 || ::unlockpt(master_) != 0)
        throw std::runtime_error("no pty");
    slavePath_ = ::ptsname(master_);
    slave_ = ::open(slavePath_.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
    termios raw{};
    if (slave_ < 0 || ::tcgetattr(slave_, &raw) != 0) throw std::runtime_error("no pty slave");
    ::cfmakeraw(&raw);
    ::tcsetattr(slave_, TCSANOW, &raw);
}

RawPty::~RawPty() {
    ::close(slave_);
    ::close(master_);
}

bool RawPty::write(const std::string& bytes) {
    for (std::size_t done = 0; done < bytes.size();) {
        auto n = ::write(master_, bytes.data() + done, bytes.size() - done);
        if (n <= 0) return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

std::optional<std::string> RawPty::readFrame(std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
        if (auto event = decoder_.next()) {
            if (event->kind != agent::FrameDecoder::Event::Kind::Message) return std::nullopt;
            return event->body;
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        pollfd p{master_, POLLIN, 0};
        if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0)
            return std::nullopt;
        char buffer[65536];
        auto n = ::read(master_, buffer, sizeof buffer);
        if (n <= 0) return std::nullopt;
        decoder_.feed(std::string_view(buffer, static_cast<std::size_t>(n)));
    }
}

}  // namespace corral::test

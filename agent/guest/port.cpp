#include "agent/guest/port.hpp"

#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace corral::agent::guest {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

int logLevel = 0;

void log(int level, const std::string& message) {
    if (level <= logLevel) std::fprintf(stderr, "negotiator-guest: %s\n", message.c_str());
}

namespace {

void pause(std::chrono::milliseconds d) {
    timespec ts{static_cast<time_t>(d.count() / 1000),
                static_cast<long>(d.count() % 1000) * 1'000'000};
    ::nanosleep(&ts, nullptr);
}

int msUntil(Clock::time_point deadline) {
    if (deadline == Clock::time_point::max()) return 1000;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return static_cast<int>(std::clamp<long long>(left.count(), 0, 1000));
}

// Opens the port, retrying EBUSY (another opener) and ENOENT (not there yet) until the deadline.
int openPort(const fs::path& device, Clock::time_point deadline) {
    for (;;) {
        int fd = ::open(device.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd >= 0) return fd;
        int e = errno;
        if ((e != EBUSY && e != ENOENT) || Clock::now() >= deadline) {
            log(0, "cannot open " + device.string() + ": " + std::strerror(e));
            return -1;
        }
        pause(std::chrono::milliseconds(100));
    }
}

// Writes all of `data`, waiting for the host end to be connected and to drain, until the
// deadline; false if the host never took it.
bool writeAll(int fd, std::string_view data, Clock::time_point deadline) {
    while (!data.empty()) {
        auto n = ::write(fd, data.data(), data.size());
        if (n > 0) {
            data.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR) return false;
        if (Clock::now() >= deadline) return false;
        pollfd p{fd, POLLOUT, 0};
        if (::poll(&p, 1, msUntil(deadline)) > 0 && (p.revents & POLLHUP) &&
            !(p.revents & POLLOUT)) {
            pause(std::chrono::milliseconds(20));  // host end closed: POLLHUP does not wait
        }
    }
    return true;
}

void reply(int fd, const std::string& body, const ServeOptions& options) {
    if (!writeAll(fd, encodeFrame(body), Clock::now() + options.writeTimeout)) {
        log(0, "reply dropped: the host did not read it within the write timeout");
    }
}

}  // namespace

std::optional<fs::path> findPort(const std::string& portName, const fs::path& sysfs) {
    std::error_code ec;
    for (fs::directory_iterator it(sysfs, ec), end; !ec && it != end; it.increment(ec)) {
        std::ifstream file(it->path() / "name");
        std::string name;
        if (std::getline(file, name) && name == portName) {
            return fs::path("/dev") / it->path().filename();
        }
    }
    return std::nullopt;
}

int serve(const fs::path& device, const Dispatcher& dispatcher, const ServeOptions& options) {
    int fd = openPort(device, Clock::now() + std::chrono::seconds(30));
    if (fd < 0) return 1;
    log(1, "serving on " + device.string());
    FrameDecoder decoder(options.maxMessage);
    std::string buffer(65536, '\0');
    bool hostConnected = false;
    bool inGarbage = false;
    auto lastData = Clock::now();
    for (;;) {
        auto n = ::read(fd, buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0 && decoder.midMessage() && Clock::now() - lastData > options.partialTimeout) {
            log(0, "dropping an incomplete message: the host stopped sending");
            decoder.reset();
        }
        if (n <= 0) {
            if (n == 0) {
                // EOF: the host end is not connected; a partial message died with it.
                if (hostConnected) log(1, "host disconnected");
                hostConnected = false;
                inGarbage = false;
                decoder.reset();
                pause(options.idlePoll);
            } else if (errno == EAGAIN) {
                pollfd p{fd, POLLIN, 0};
                auto wait =
                    decoder.midMessage() ? static_cast<int>(options.partialTimeout.count()) : -1;
                ::poll(&p, 1, wait);
                if ((p.revents & POLLHUP) && !(p.revents & POLLIN)) pause(options.idlePoll);
            } else {
                log(0, "read from " + device.string() + " failed: " + std::strerror(errno));
                pause(options.idlePoll);
            }
            continue;
        }
        if (!hostConnected) log(1, "host connected");
        hostConnected = true;
        lastData = Clock::now();
        decoder.feed(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
        while (auto event = decoder.next()) {
            using Kind = FrameDecoder::Event::Kind;
            if (event->kind == Kind::Message) {
                inGarbage = false;
                if (options.hangup) *options.hangup = HangupWatch{fd, false};
                auto answer = dispatcher.handle(event->body, options.maxMessage);
                if (options.hangup && options.hangup->hungUp) {
                    log(0, "reply dropped: the host hung up while the command ran");
                    continue;
                }
                reply(fd, answer, options);
                continue;
            }
            // One error reply per run of garbage, however long the run.
            if (!inGarbage) {
                log(0, "protocol error: " + event->error);
                reply(fd, encodeReply(Reply::fail("protocol error: " + event->error)), options);
            }
            inGarbage = true;
            decoder.resync();
        }
    }
}

namespace {

// Reads the next reply from the host, until the deadline; a failed Reply says what went wrong.
// `transport` is set when the failure is not the host's answer.
Reply nextReply(int fd, const fs::path& device, FrameDecoder& decoder, const std::string& what,
                Clock::time_point deadline, bool& transport) {
    transport = true;
    std::string buffer(65536, '\0');
    for (;;) {
        if (auto event = decoder.next()) {
            if (event->kind != FrameDecoder::Event::Kind::Message)
                return Reply::fail("protocol error from the host: " + event->error);
            std::string problem;
            auto parsed = parseReply(event->body, problem);
            if (!parsed) return Reply::fail("protocol error from the host: " + problem);
            transport = false;
            return *parsed;
        }
        if (Clock::now() >= deadline)
            return Reply::fail("timed out waiting for the host's reply to " + what);
        auto n = ::read(fd, buffer.data(), buffer.size());
        if (n > 0) {
            decoder.feed(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return Reply::fail("read from " + device.string() + " failed: " + std::strerror(errno));
        pollfd p{fd, POLLIN, 0};
        ::poll(&p, 1, msUntil(deadline));
        if (n == 0 || ((p.revents & POLLHUP) && !(p.revents & POLLIN)))
            pause(std::chrono::milliseconds(20));
    }
}

}  // namespace

Reply callHost(const fs::path& device, const Call& call, std::chrono::milliseconds timeout) {
    auto deadline = timeout.count() > 0 ? Clock::now() + timeout : Clock::time_point::max();
    int fd = openPort(device, deadline);
    if (fd < 0) return Reply::fail("cannot open " + device.string());
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    // An earlier client may have left a call unanswered (its timeout ran out): its late reply
    // must not be taken for ours. A probe with a unique method name goes first; every host
    // answers it with an error naming it, and replies before that one are dropped.
    auto token = "corral_sync_" + std::to_string(::getpid());
    auto frames = encodeFrame(encodeCall(Call{token, {}, {}})) + encodeFrame(encodeCall(call));
    if (!writeAll(fd, frames, deadline)) {
        return Reply::fail("timed out sending " + call.method + " to the host on " +
                           device.string() + " (is the host side connected?)");
    }
    FrameDecoder decoder;
    bool transport = false;
    for (;;) {
        auto reply = nextReply(fd, device, decoder, call.method, deadline, transport);
        if (transport) return reply;
        if (!reply.success && reply.error.find(token) != std::string::npos) break;
    }
    return nextReply(fd, device, decoder, call.method, deadline, transport);
}

}  // namespace corral::agent::guest

// A scripted peer on a UNIX socket server, run on its own thread, for hostile-input tests: it
// plays QEMU's chardev (the guest agent behind it) or a QMP monitor. Every wait is bounded and
// stop() ends the script wherever it is blocked.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace corral::test {

// One accepted connection as the script sees it.
class PeerConnection {
  public:
    PeerConnection(int fd, int stopFd) : fd_(fd), stopFd_(stopFd) {}

    // Writes all of `bytes`; false once the client is gone or the peer is stopping.
    bool write(std::string_view bytes);
    // Some bytes, or nullopt on EOF, error, stop or when `timeout` passes first.
    std::optional<std::string> read(std::chrono::milliseconds timeout);
    // Blocks until the peer is stopped or the client hangs up.
    void holdOpen();
    bool stopping() const;

  private:
    bool waitFor(short events, std::chrono::milliseconds timeout) const;

    int fd_;
    int stopFd_;
};

class FakePeer {
  public:
    using Script = std::function<void(PeerConnection&)>;

    // Listens on `path` and runs `script` for each client, one client at a time.
    FakePeer(std::filesystem::path path, Script script);
    ~FakePeer();
    FakePeer(const FakePeer&) = delete;
    FakePeer& operator=(const FakePeer&) = delete;

    // Ends the running script, closes every socket and removes the socket file.
    void stop();
    std::size_t connectionsAccepted() const { return accepted_; }

  private:
    void run();

    std::filesystem::path path_;
    Script script_;
    int listenFd_ = -1;
    int stopFd_ = -1;
    std::atomic<std::size_t> accepted_{0};
    std::thread thread_;
};

// Resident memory of this process (VmRSS), for boundedness checks.
std::size_t residentBytes();

}  // namespace corral::test

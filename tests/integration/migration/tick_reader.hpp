// Reads a guest's serial console (a QEMU chardev UNIX socket) on its own thread and stamps each
// line with the host's steady clock when it arrived: the gap in a guest's output across a
// migration's switchover, measured where the guest's own clock cannot lie about it.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace corral::test {

class TickReader {
  public:
    struct Line {
        std::chrono::steady_clock::time_point at;
        std::string text;
    };
    // Connects (retrying until the socket accepts, bounded); throws if it cannot.
    explicit TickReader(const std::filesystem::path& socket,
                        std::chrono::milliseconds timeout = std::chrono::seconds(20));
    ~TickReader();
    TickReader(const TickReader&) = delete;
    TickReader& operator=(const TickReader&) = delete;

    std::vector<Line> lines() const;

  private:
    void run();

    int fd_ = -1;
    int stop_[2] = {-1, -1};
    mutable std::mutex mutex_;
    std::vector<Line> lines_;
    std::thread thread_;
};

// "tick N" lines only, as (arrival, N).
std::vector<std::pair<std::chrono::steady_clock::time_point, long>> ticks(
    const std::vector<TickReader::Line>& lines);

}  // namespace corral::test

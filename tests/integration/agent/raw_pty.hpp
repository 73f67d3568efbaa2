// A pty in raw mode standing for a guest's virtio port: a program under test opens the slave
// (negotiator-guest -c PATH), the test reads and writes negotiator frames on the master.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "agent/codec.hpp"

namespace corral::test {

class RawPty {
  public:
    RawPty();  // throws std::runtime_error when no pty can be had
    ~RawPty();
    RawPty(const RawPty&) = delete;
    RawPty& operator=(const RawPty&) = delete;

    const std::string& slavePath() const { return slavePath_; }
    // Writes all of `bytes` to the port; false if it could not.
    bool write(const std::string& bytes);
    // The next frame's body written to the port, or nullopt when none comes within `timeout`.
    std::optional<std::string> readFrame(std::chrono::milliseconds timeout);

  private:
    int master_ = -1;
    int slave_ = -1;  // held open: the master reads no EIO while no client has the port open
    std::string slavePath_;
    agent::FrameDecoder decoder_;
};

}  // namespace corral::test

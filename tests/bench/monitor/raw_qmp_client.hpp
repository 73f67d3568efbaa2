// The benchmark baseline: a blocking QMP client that writes one line and reads one line.
#pragma once

#include <string>

namespace corral::bench {

class RawQmpClient {
  public:
    // Connects, reads the greeting and negotiates; throws std::runtime_error on failure.
    explicit RawQmpClient(const std::string& socketPath);
    ~RawQmpClient();
    RawQmpClient(const RawQmpClient&) = delete;
    RawQmpClient& operator=(const RawQmpClient&) = delete;

    // Sends `line` (without newline) and returns the next line QEMU sends back.
    std::string roundTrip(const std::string& line);
    // The next line QEMU sends (an event, or the reply after one); throws after 30 s of silence.
    std::string readLine();

  private:
    int fd_ = -1;
    std::string buffer_;
};

}  // namespace corral::bench

// negotiator-host's way to a guest when no socket is given: corrald owns every VM's negotiator
// channel and exposes GuestListCommands/GuestExecute on org.corral1.Instance. Blocking sd-bus
// calls are fine here: this is a one-shot CLI, not corrald.
#pragma once

#include <chrono>
#include <string>
#include <vector>

struct sd_bus;

namespace corral::agent {

class BusClient {
  public:
    // Empty address: the system bus.
    explicit BusClient(const std::string& address);
    ~BusClient();
    BusClient(const BusClient&) = delete;
    BusClient& operator=(const BusClient&) = delete;

    // Each prints the result (or an error on stderr) and returns the process exit code.
    int listGuests();
    int listCommands(const std::string& guest);
    int execute(const std::string& guest, const std::vector<std::string>& argv,
                std::chrono::milliseconds timeout);

  private:
    std::string instancePath(const std::string& guest);

    sd_bus* bus_ = nullptr;
    std::string error_;
};

}  // namespace corral::agent

// Deferred D-Bus replies: a method handler keeps the call message and answers when the
// operation completes, from outside sd_bus_process, then kicks the loop to flush.
#pragma once

#include <systemd/sd-bus.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "supervisor/bus_loop.hpp"
#include "supervisor/op_error.hpp"

namespace corral::supervisor {

class PendingCall {
  public:
    PendingCall(std::shared_ptr<BusLoop> loop, sd_bus_message* call);

    void error(const OpError& error) const;
    void empty() const;
    void string(const std::string& value) const;
    void strings(const std::vector<std::string>& values) const;
    // Replies with what `append` adds to the method return (it returns sd-bus's result).
    void values(const std::function<int(sd_bus_message*)>& append) const;
    // Replies with the outcome: an error, or nothing / the value.
    void finish(const Status& status) const;
    void finish(const Outcome<std::string>& outcome) const;
    void finish(const Outcome<std::vector<std::string>>& outcome) const;

  private:
    // A method return filled by `fill` (none: empty), then sent.
    void reply(const std::function<int(sd_bus_message*)>& fill) const;
    void send(sd_bus_message* reply) const;

    std::shared_ptr<BusLoop> loop_;
    std::shared_ptr<sd_bus_message> call_;
};

// Sets `error` for a synchronous handler; returns the negative errno sd-bus expects.
int setError(sd_bus_error* error, const OpError& op);

}  // namespace corral::supervisor

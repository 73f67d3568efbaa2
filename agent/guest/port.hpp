// The guest's virtio-serial ports: finding them by name, serving host->guest calls on one, and
// making one guest->host call on the other. A port reads EOF and polls POLLHUP while the host
// end is not connected; every wait here is bounded or retried so that the host can come and go.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>

#include "agent/codec.hpp"
#include "agent/guest/run_command.hpp"
#include "agent/rpc.hpp"

namespace corral::agent::guest {

inline constexpr const char* kHostToGuestPort = "negotiator-host-to-guest.0";
inline constexpr const char* kGuestToHostPort = "negotiator-guest-to-host.0";

// /dev/<entry> for the /sys/class/virtio-ports/<entry>/name that equals `portName`.
std::optional<std::filesystem::path> findPort(
    const std::string& portName, const std::filesystem::path& sysfs = "/sys/class/virtio-ports");

struct ServeOptions {
    std::size_t maxMessage = kDefaultMaxMessage;
    std::chrono::milliseconds writeTimeout{std::chrono::seconds(10)};
    std::chrono::milliseconds idlePoll{std::chrono::milliseconds(100)};
    // A message started but not continued for this long is dropped (its host went away).
    std::chrono::milliseconds partialTimeout{std::chrono::seconds(2)};
    // The dispatcher's commands watch the port through this (RunLimits::hangup); a call whose
    // host hung up meanwhile gets no reply.
    HangupWatch* hangup = nullptr;
};

// Serves requests on `device` forever (returns only if it cannot be opened for good).
int serve(const std::filesystem::path& device, const Dispatcher& dispatcher,
          const ServeOptions& options);

// Sends one call over `device` and waits for its reply; a zero timeout waits forever. On a
// transport or protocol failure returns a failed Reply whose error says so.
Reply callHost(const std::filesystem::path& device, const Call& call,
               std::chrono::milliseconds timeout);

// Verbosity for log(): 0 = warnings, 1 = info, 2 = debug; -1 silences warnings.
extern int logLevel;
void log(int level, const std::string& message);

}  // namespace corral::agent::guest

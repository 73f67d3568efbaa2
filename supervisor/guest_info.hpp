// What a guest tells about itself through the built-in commands of its agent (the ones
// python-negotiator hosts call: find-distributor-id and friends), for Instance.GuestInfo and
// `corralctl status`. Built on guest execute calls only: no D-Bus, no QEMU here.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "supervisor/op_error.hpp"

namespace corral::supervisor {

struct GuestInfo {
    std::string osId;                    // find-distributor-id: "Debian"
    std::string release;                 // find-distribution-release: "12"
    std::string codename;                // find-distribution-codename: "bookworm"
    std::vector<std::string> addresses;  // find-ip-addresses: "10.0.2.15/24", loopback included
};

// One guest execute call: argv in, the command's output (or why it failed) to the callback.
using GuestCommandRunner = std::function<void(std::vector<std::string> argv,
                                              std::function<void(Outcome<std::string>)> done)>;

// Runs the built-in commands one after the other through `run` and hands `done` what they
// said. A command the guest lacks or that fails leaves its field empty (older agents have none
// of them); an agent that cannot be reached or does not answer fails the whole query.
void queryGuestInfo(GuestCommandRunner run, std::function<void(Outcome<GuestInfo>)> done);

// The field values from the commands' outputs: one line each, the addresses one a line.
std::string guestInfoLine(const std::string& output);
std::vector<std::string> guestInfoAddresses(const std::string& output);

}  // namespace corral::supervisor

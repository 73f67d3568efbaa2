// The fixtures captured from python-negotiator 0.12.2 (tests/fixtures/negotiator, see its
// capture.py): what its CLIs and classes sent, what its daemons answered, what its CLIs printed.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace corral::test {

struct NegotiatorCase {
    std::string name;
    std::string client;                 // "host-cli", "guest-cli", "class" or "handmade"
    std::string server;                 // "guest" (its guest daemon) or "host" (its host daemon)
    std::vector<std::string> args;      // CLI arguments as run ("@PTY@" for the guest's port)
    std::optional<int> status;          // the CLI's exit code
    std::string requestBytes;           // every frame its client wrote, as written
    std::string replyBytes;             // every frame its daemon answered
    std::vector<std::string> requests;  // the JSON bodies of those frames
    std::vector<std::string> replies;
    std::optional<std::string> printed;  // what the CLI wrote to stdout

    bool timedOut() const;  // the CLI gave up before the reply (its -t case)
};

std::filesystem::path negotiatorFixtures();
std::vector<NegotiatorCase> loadNegotiatorCases();

// The built-in commands the original's daemons list besides the user commands.
const std::set<std::string>& originalBuiltins();

// Our reply against the original's for the same request: the same success, the same text, the
// same names (as sets, `ignored` left out); error texts differ and only have to be errors.
::testing::AssertionResult sameOutcome(const std::string& ours, const std::string& original,
                                       const std::set<std::string>& ignored = {});

}  // namespace corral::test

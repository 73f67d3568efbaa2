#include "tests/integration/migration/veth_link.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <vector>

#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::test {

namespace {

void ip(const std::vector<std::string>& args) {
    TempDir dir;
    std::vector<std::string> argv = {"ip"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto process = Process::spawn(argv, dir / "out");
    auto status = process.wait(std::chrono::seconds(20));
    if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
        std::string line;
        for (const auto& a : argv) line += a + " ";
        throw std::runtime_error("command failed: " + line + ": " + readFile(dir / "out"));
    }
}

}  // namespace

VethLink::VethLink()
    : source_("corral-msrc-" + std::to_string(::getpid())),
      destination_("corral-mdst-" + std::to_string(::getpid())) {
    ip({"netns", "add", source_});
    try {
        ip({"netns", "add", destination_});
        ip({"-n", source_, "link", "add", "mig0", "type", "veth", "peer", "name", "mig1", "netns",
            destination_});
        ip({"-n", source_, "addr", "add", std::string(kSourceAddress) + "/24", "dev", "mig0"});
        ip({"-n", destination_, "addr", "add", std::string(kDestinationAddress) + "/24", "dev",
            "mig1"});
        for (const auto& ns : {source_, destination_}) ip({"-n", ns, "link", "set", "lo", "up"});
        ip({"-n", source_, "link", "set", "mig0", "up"});
        ip({"-n", destination_, "link", "set", "mig1", "up"});
    } catch (...) {
        try {
            ip({"netns", "del", source_});
            ip({"netns", "del", destination_});
        } catch (const std::exception&) {
        }
        throw;
    }
}

VethLink::~VethLink() {
    for (const auto& ns : {source_, destination_}) {
        try {
            ip({"netns", "del", ns});
        } catch (const std::exception&) {
            // Best effort: a failing test must still report its own failure.
        }
    }
}

void VethLink::setDown(bool down) {
    ip({"-n", destination_, "link", "set", "mig1", down ? "down" : "up"});
}

}  // namespace corral::test

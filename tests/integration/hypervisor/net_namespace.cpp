#include "tests/integration/hypervisor/net_namespace.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::test {
namespace {

std::string runCommand(const std::vector<std::string>& argv) {
    TempDir dir;
    auto process = Process::spawn(argv, dir / "out");
    auto status = process.wait(std::chrono::seconds(20));
    std::ifstream in(dir / "out");
    std::stringstream out;
    out << in.rdbuf();
    if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
        std::string line;
        for (const auto& arg : argv) line += arg + " ";
        throw std::runtime_error("command failed: " + line + ": " + out.str());
    }
    return out.str();
}

}  // namespace

NetNamespace::NetNamespace() : name_("corral-test-" + std::to_string(::getpid())) {
    runCommand({"ip", "netns", "add", name_});
    original_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    int target = ::open(("/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
    bool entered = original_ >= 0 && target >= 0 && ::setns(target, CLONE_NEWNET) == 0;
    if (target >= 0) ::close(target);
    if (!entered) {
        if (original_ >= 0) ::close(original_);
        runCommand({"ip", "netns", "del", name_});
        throw std::runtime_error("cannot enter network namespace " + name_);
    }
    runCommand({"ip", "link", "set", "lo", "up"});
}

NetNamespace::~NetNamespace() {
    ::setns(original_, CLONE_NEWNET);
    ::close(original_);
    try {
        runCommand({"ip", "netns", "del", name_});
    } catch (const std::exception&) {
        // Best effort: a failing test must still report its own failure.
    }
}

std::string NetNamespace::run(const std::vector<std::string>& argv) {
    return runCommand(argv);
}

}  // namespace corral::test

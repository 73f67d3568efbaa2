#include "supervisor/swtpm_process.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "hypervisor/tpm.hpp"

namespace corral::supervisor {

namespace {

using namespace std::chrono_literals;

constexpr auto kSocketWait = 5s;

// swtpm on PATH, or "" when it is not installed.
std::string findSwtpm() {
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/bin:/bin";
    std::size_t at = 0;
    while (at <= dirs.size()) {
        auto colon = dirs.find(':', at);
        auto dir = dirs.substr(at, colon == std::string::npos ? std::string::npos : colon - at);
        auto candidate = std::filesystem::path(dir.empty() ? "." : dir) / hypervisor::kSwtpmBinary;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
        if (colon == std::string::npos) break;
        at = colon + 1;
    }
    return "";
}

std::string lastLogLine(const std::filesystem::path& file) {
    std::ifstream in(file);
    std::string line, last;
    while (std::getline(in, line))
        if (!line.empty()) last = line;
    return last.empty() ? "nothing in " + file.string() : last;
}

}  // namespace

std::unique_ptr<SwtpmProcess> SwtpmProcess::start(const boost::asio::any_io_executor& executor,
                                                  const std::string& name,
                                                  const hypervisor::RuntimePaths& paths,
                                                  const std::filesystem::path& stateRoot) {
    auto binary = findSwtpm();
    if (binary.empty())
        throw std::runtime_error(name + ": [tpm] type = \"tpm2\" needs swtpm, which is not on " +
                                 "PATH; install the Debian package swtpm");
    auto state = hypervisor::tpmStateDir(stateRoot, name);
    std::error_code ec;
    std::filesystem::create_directories(state, ec);
    if (ec || ::chmod(state.c_str(), 0700) != 0)
        throw std::runtime_error(name + ": cannot create the TPM state directory " +
                                 state.string() + ": " + (ec ? ec.message() : "chmod failed"));
    auto socket = hypervisor::swtpmSocketPath(paths.dir);
    std::filesystem::remove(socket, ec);
    auto argv = hypervisor::swtpmArgv(binary, state, paths.dir);
    auto process =
        hypervisor::QemuProcess::spawn(executor, argv, hypervisor::swtpmLogPath(paths.dir));
    std::unique_ptr<SwtpmProcess> swtpm(new SwtpmProcess(std::move(process), paths));
    // swtpm makes its socket within milliseconds; qemu fails at once without it.
    auto deadline = std::chrono::steady_clock::now() + kSocketWait;
    while (!std::filesystem::exists(socket, ec)) {
        int status = 0;
        bool gone = ::waitpid(swtpm->pid(), &status, WNOHANG) == swtpm->pid();
        if (gone || std::chrono::steady_clock::now() > deadline) {
            if (!gone) swtpm->stop();
            throw std::runtime_error(name + ": swtpm did not start (" +
                                     lastLogLine(hypervisor::swtpmLogPath(paths.dir)) + ")");
        }
        std::this_thread::sleep_for(10ms);
    }
    return swtpm;
}

std::unique_ptr<SwtpmProcess> SwtpmProcess::adopt(const boost::asio::any_io_executor& executor,
                                                  const std::string& name,
                                                  const hypervisor::RuntimePaths& paths,
                                                  const std::filesystem::path& stateRoot,
                                                  std::string& why) {
    std::ifstream in(hypervisor::swtpmPidPath(paths.dir));
    pid_t pid = 0;
    if (!(in >> pid) || pid <= 0) {
        why = "no pid in " + hypervisor::swtpmPidPath(paths.dir).string();
        return nullptr;
    }
    auto running = hypervisor::processCmdline(pid);
    auto binary = running && !running->empty() ? running->front() : std::string();
    auto expected =
        hypervisor::swtpmArgv(binary, hypervisor::tpmStateDir(stateRoot, name), paths.dir);
    auto process = hypervisor::QemuProcess::adopt(executor, pid, expected, why);
    if (!process) return nullptr;
    return std::unique_ptr<SwtpmProcess>(new SwtpmProcess(std::move(*process), paths));
}

void SwtpmProcess::stop() {
    if (process_.kill(SIGTERM) && process_.isChild()) {
        // Reaped here: the watch that would have reaped it ends with its RunningQemu.
        auto deadline = std::chrono::steady_clock::now() + 2s;
        while (::waitpid(pid(), nullptr, WNOHANG) == 0) {
            if (std::chrono::steady_clock::now() > deadline) {
                process_.kill(SIGKILL);
                ::waitpid(pid(), nullptr, 0);
                break;
            }
            std::this_thread::sleep_for(5ms);
        }
    }
    std::error_code ec;
    std::filesystem::remove(hypervisor::swtpmSocketPath(paths_.dir), ec);
    std::filesystem::remove(hypervisor::swtpmPidPath(paths_.dir), ec);
}

}  // namespace corral::supervisor

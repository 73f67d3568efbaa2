// Test processes: started with posix_spawn, always reaped, killed by pid when the test ends.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace corral::test {

class Process {
  public:
    // Starts argv[0] (looked up in PATH) with stdout+stderr appended to `log` (or /dev/null).
    // Throws std::runtime_error if the program cannot be started.
    static Process spawn(const std::vector<std::string>& argv,
                         const std::filesystem::path& log = "/dev/null");

    Process() = default;
    Process(Process&& other) noexcept;
    Process& operator=(Process&& other) noexcept;
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;
    ~Process();  // SIGKILL + reap if still running

    pid_t pid() const { return pid_; }
    bool running();
    // Waits for exit; returns the raw wait status, or nullopt on timeout.
    std::optional<int> wait(std::chrono::milliseconds timeout);
    void kill(int signal = 9);
    // Leaves the process running (the test hands its ownership to something else).
    pid_t release();

  private:
    pid_t pid_ = -1;
    std::optional<int> status_;
};

// A private dbus-daemon (session configuration) whose address it prints into `addressFile`;
// returns its address once printed (bounded), the daemon goes to `daemon`. Throws if none comes.
std::string startPrivateBus(Process& daemon, const std::filesystem::path& addressFile);

// Polls for `path` to exist (a socket QEMU creates a moment after start), bounded.
bool waitForPath(const std::filesystem::path& path, std::chrono::milliseconds timeout);

// The "Key:\tvalue" lines of /proc/PID/status (Uid, CapEff, NoNewPrivs, ...); empty when the
// process is gone.
std::map<std::string, std::string> procStatus(pid_t pid);

// Full path of the guest kernel and initrd built by tests/guest/build-image.sh.
std::filesystem::path guestKernel();
std::filesystem::path guestInitrd();

// qemu argv prefix for a TCG guest with our kernel and initrd and no default devices.
std::vector<std::string> guestQemuArgs(const std::string& machine,
                                       const std::string& memory = "256");

}  // namespace corral::test

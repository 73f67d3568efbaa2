// A private dbus-daemon plus corrald on it, with temp instance and runtime dirs, driven by the
// real busctl. Every process is killed by pid when the fixture ends, qemu included.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::test {

struct CommandResult {
    int status = -1;  // exit code, -1 if it did not finish in time
    std::string output;
};

// Runs argv to completion (bounded) and returns its exit code and stdout+stderr.
CommandResult runCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                         const std::filesystem::path& scratch);

struct GuestOptions {
    std::string machine = "pc";
    std::string onCrash = "stop";
    std::string shutdownTimeout = "3s";
    std::string extraCmdline;
    bool autostart = false;
};

class CorraldFixture : public ::testing::Test {
  protected:
    CorraldFixture();
    ~CorraldFixture() override;

    // Writes <instances>/<name>.toml: the test guest image under TCG with the negotiator agent.
    void writeGuest(const std::string& name, const GuestOptions& options = {});
    void writeFile(const std::string& name, const std::string& text);
    // corrald with the temp dirs; guest-to-host commands come from <dir>/commands.
    void startCorrald();
    void killCorrald();

    // busctl --address <bus> ARGS...; the process's output.
    CommandResult busctl(std::vector<std::string> args,
                         std::chrono::milliseconds timeout = std::chrono::seconds(30));
    // Calls a method of an instance: busctl call org.corral1 <path> org.corral1.Instance ...
    CommandResult call(const std::string& name, const std::string& method,
                       std::vector<std::string> args = {},
                       std::chrono::milliseconds timeout = std::chrono::seconds(60));
    // busctl get-property output, e.g. `s "running"`.
    std::string property(const std::string& name, const std::string& property);
    // Polls a property until it equals `expected` (busctl form), bounded.
    bool waitProperty(const std::string& name, const std::string& prop, const std::string& expected,
                      std::chrono::milliseconds timeout);
    // The Pid property as a number (0 when not running).
    pid_t pid(const std::string& name);
    std::string path(const std::string& name) const;
    std::string corraldLog() const;

    TempDir dir_;
    // Appended to the corral.toml startCorrald() writes (e.g. a [qemu] section).
    std::string extraConfig_;
    std::string address_;
    Process dbus_;
    Process corrald_;
    unsigned corraldStarts_ = 0;
};

}  // namespace corral::test

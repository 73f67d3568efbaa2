// A real guest (TCG) under corrald with its logs in <log_dir>/NAME/: the boot text in
// console.log while the console socket keeps working, corrald's lines in qemu.log, a corrald
// restart (SIGKILL) that qemu's logging survives, and rotation by copy and truncate under a small
// [logs] bound while the guest writes.
#include <gtest/gtest.h>

#include <regex>
#include <thread>

#include "tests/integration/supervisor/corrald_fixture.hpp"
#include "tests/support/serial_console.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;

constexpr std::uintmax_t kBound = 4096;
constexpr unsigned kKeep = 2;

class LogsGuest : public CorraldFixture {
  protected:
    std::filesystem::path logDir() const { return dir_ / "log" / "logs1"; }

    // console.log.2, console.log.1 and console.log: everything the guest wrote that is kept.
    std::string consoleText() const {
        std::string text;
        for (unsigned n = kKeep; n > 0; --n)
            text += readFile(logDir() / ("console.log." + std::to_string(n)));
        return text + readFile(logDir() / "console.log");
    }

    // Polls `read` until it contains `text`, bounded.
    template <typename Read>
    bool waitForText(Read read, const std::string& text, std::chrono::seconds timeout) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        while (read().find(text) == std::string::npos) {
            if (std::chrono::steady_clock::now() >= deadline) return false;
            std::this_thread::sleep_for(100ms);
        }
        return true;
    }

    std::string qemuLog() const { return readFile(logDir() / "qemu.log"); }
};

TEST_F(LogsGuest, ConsoleAndQemuLogsPersistSurviveARestartAndRotateWithinTheirBound) {
    extraConfig_ = "[logs]\nmax_size = \"4K\"\nkeep = 2\n";
    writeGuest("logs1");
    startCorrald();
    ASSERT_EQ(call("logs1", "Start").status, 0) << corraldLog();
    auto pid = this->pid("logs1");
    ASSERT_GT(pid, 0);

    // The boot text reaches the file (the guest's init prints this once userspace runs).
    ASSERT_TRUE(waitForText([&] { return consoleText(); }, "corral-guest: userspace ready", 300s))
        << consoleText() << qemuLog();
    auto log = qemuLog();
    EXPECT_TRUE(std::regex_search(
        log, std::regex("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}Z corrald: starting "
                        "qemu \\(start\\)\n")))
        << log;
    EXPECT_NE(log.find("corrald: qemu (pid " + std::to_string(pid) + ") is running"),
              std::string::npos)
        << log;

    // The socket still serves the console, and what the guest answers is in the file too.
    SerialConsole console(dir_ / "run" / "logs1" / "serial.sock");
    console.send("\n");
    ASSERT_TRUE(console.waitFor(std::regex("~ # "), 60s)) << console.transcript();
    auto answer = console.run("echo log-$((6*7))", 60s);
    ASSERT_TRUE(answer) << console.transcript();
    EXPECT_EQ(answer->text, "log-42\n");
    EXPECT_TRUE(waitForText([&] { return consoleText(); }, "log-42", 30s)) << consoleText();

    // corrald dies; qemu keeps logging to the same files, and the next corrald rotates them.
    killCorrald();
    auto written = console.run(
        "i=0; while [ $i -lt 40 ]; do echo while-corrald-is-down-$i; "
        "i=$((i+1)); done",
        60s);
    ASSERT_TRUE(written) << console.transcript();
    EXPECT_TRUE(waitForText([&] { return consoleText(); }, "while-corrald-is-down-39", 30s));
    startCorrald();
    ASSERT_TRUE(waitProperty("logs1", "State", "s \"running\"", 30s)) << corraldLog();
    EXPECT_TRUE(waitForText(
        [&] { return qemuLog(); },
        "corrald: corrald started; took over qemu (pid " + std::to_string(pid) + ")", 30s))
        << qemuLog();

    // Three rounds of more than twice the bound, each rotated while qemu runs (copy and truncate
    // by corrald's check; where a check falls within a round is chance): the oldest round is
    // gone, the files kept are shifted and each within the bound.
    for (int round = 0; round < 3; ++round) {
        auto r = std::to_string(round);
        auto fill = console.run("i=0; while [ $i -lt 200 ]; do echo fill-" + r +
                                    "-$i-abcdefghijklmnopqrstuvwxyz0123456789; i=$((i+1)); done",
                                120s);
        ASSERT_TRUE(fill) << console.transcript();
        ASSERT_TRUE(
            waitForText([&] { return readFile(logDir() / "console.log.1"); }, "fill-" + r, 60s))
            << "round " << round << ": " << corraldLog();
        // The round's last line is in the file or, if a check rotated right after it, in .1.
        EXPECT_TRUE(
            waitForText([&] { return readFile(logDir() / "console.log.1") + consoleText(); },
                        "fill-" + r + "-199-", 30s));
    }
    EXPECT_NE(readFile(logDir() / "console.log.2").find("fill-"), std::string::npos);
    EXPECT_EQ(consoleText().find("fill-0-"), std::string::npos) << "the oldest round is gone";
    for (unsigned n = 1; n <= kKeep; ++n)
        EXPECT_LE(std::filesystem::file_size(logDir() / ("console.log." + std::to_string(n))),
                  kBound);
    EXPECT_FALSE(std::filesystem::exists(logDir() / "console.log.3"));
    // Writes after the truncation land at the start of the file: no hole of zeros.
    EXPECT_EQ(readFile(logDir() / "console.log").find('\0'), std::string::npos);

    ASSERT_EQ(call("logs1", "Kill").status, 0);
    ASSERT_TRUE(waitProperty("logs1", "State", "s \"stopped\"", 60s));
    EXPECT_TRUE(waitForText([&] { return qemuLog(); }, "corrald: LastExit: killed", 30s))
        << qemuLog();
    EXPECT_TRUE(std::filesystem::exists(logDir() / "console.log")) << "logs outlive the VM";
}

}  // namespace
}  // namespace corral::test

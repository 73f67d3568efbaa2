// The fixture of the guest migration tests: a real guest (TCG) on a source corrald, a
// destination corrald in another network namespace, and what the tests do with them.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/migration/migration_host.hpp"
#include "tests/integration/migration/tick_reader.hpp"
#include "tests/integration/migration/veth_link.hpp"
#include "tests/support/serial_console.hpp"

namespace corral::test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

inline std::string destinationConfig() {
    return std::string("[migration]\nlisten_address = \"") + VethLink::kDestinationAddress +
           "\"\nport_range = \"49820-49839\"\n";
}

inline double uptimeOf(const std::string& busctlString) {
    // s "123.45 67.89\n"
    auto quote = busctlString.find('"');
    return quote == std::string::npos ? -1 : std::atof(busctlString.c_str() + quote + 1);
}

inline std::uint64_t progressField(const std::string& property, const std::string& key) {
    std::smatch m;
    std::regex field("\"" + key + "\" ([0-9]+)");
    if (!std::regex_search(property, m, field)) return 0;
    return std::stoull(m[1]);
}

class MigrationGuest : public ::testing::Test {
  protected:
    // What the test's VM has in its definition beyond guestDefinition()'s.
    virtual std::string definitionExtra() const { return {}; }
    void SetUp() override {
        src.writeDefinition("vm1", guestDefinition(definitionExtra()));
        src.start("[migration]\n" + tlsDirLine(src));
        dst.start(destinationConfig() + tlsDirLine(dst));
        auto start = src.call("vm1", "Start");
        ASSERT_EQ(start.status, 0) << start.output << src.log();
        ASSERT_TRUE(src.waitProperty("vm1", "AgentConnected", "b true", 180s)) << src.log();
        sourcePid = src.pid("vm1");
    }

    CommandResult exec(MigrationHost& host, const std::string& shell) {
        return host.call("vm1", "GuestExecute", {"asst", "3", "sh", "-c", shell, "", "20000000"});
    }

    // The guest dirties memory all the time (random data into its RAM-backed /tmp).
    void startDirtying() {
        auto r = exec(src,
                      "(while :; do dd if=/dev/urandom of=/tmp/dirty bs=64k count=32 "
                      "2>/dev/null; done) >/dev/null 2>&1 </dev/null & echo started");
        ASSERT_NE(r.output.find("started"), std::string::npos) << r.output;
    }

    // A counter every 100 ms ("tick N") on the guest's serial console.
    void startTicks() {
        SerialConsole console(src.runtimeDir() / "vm1" / "serial.sock");
        auto started = console.run(
            "(i=0; while :; do i=$((i+1)); echo tick $i; usleep 100000; done) & echo bg", 20s);
        ASSERT_TRUE(started) << console.transcript();
    }
    // The destination's console, connected while the stream comes in (it sees the first tick
    // after the switchover).
    std::unique_ptr<TickReader> destinationTicks() {
        auto deadline = Clock::now() + 120s;
        auto serial = dst.runtimeDir() / "vm1" / "serial.sock";
        while (!std::filesystem::exists(serial) && Clock::now() < deadline)
            std::this_thread::sleep_for(10ms);
        return std::make_unique<TickReader>(serial);
    }

    // Migrate, run by busctl in the background; its output goes to a file.
    void startMigrate(std::vector<std::string> options) {
        std::vector<std::string> argv = {"busctl",
                                         "--address",
                                         src.address(),
                                         "--timeout=600",
                                         "--",
                                         "call",
                                         "org.corral1",
                                         "/org/corral1/instance/vm1",
                                         "org.corral1.Instance",
                                         "Migrate",
                                         "sa{sv}",
                                         dst.address()};
        argv.insert(argv.end(), options.begin(), options.end());
        migrateOut = src.scratch() / "migrate.out";
        migrate = Process::spawn(argv, migrateOut);
    }
    // corralctl migrate vm1 DEST ARGS..., in the background, its output (not a terminal: plain
    // progress lines) in the same file.
    void startCorralctlMigrate(std::vector<std::string> args) {
        std::vector<std::string> argv = {std::string(CORRAL_BINARY_DIR) + "/supervisor/corralctl",
                                         "--address",
                                         src.address(),
                                         "migrate",
                                         "vm1",
                                         dst.address()};
        argv.insert(argv.end(), args.begin(), args.end());
        migrateOut = src.scratch() / "migrate.out";
        migrate = Process::spawn(argv, migrateOut);
    }
    // Migrate's exit code (-1: it did not end in time) and its output.
    CommandResult finishMigrate(std::chrono::milliseconds timeout = 300s) {
        return finishCommand(migrate, migrateOut, timeout);
    }
    // The transfer runs: the source says active and the destination has its incoming qemu.
    void waitActive() {
        ASSERT_TRUE(src.waitProperty("vm1", "MigrationState", "s \"active\"", 60s))
            << src.log() << dst.log() << readFile(migrateOut);
        auto deadline = Clock::now() + 20s;
        while (dst.qemuPids().empty() && Clock::now() < deadline) std::this_thread::sleep_for(20ms);
        ASSERT_EQ(dst.qemuPids().size(), 1u) << dst.log();
    }
    // The source's record says the switchover has begun (FinishIncoming goes out next).
    bool waitSwitching() {
        auto mark = src.stateDir() / "vm1" / "migrating";
        auto deadline = Clock::now() + 120s;
        while (readFile(mark).find("switching") == std::string::npos && Clock::now() < deadline)
            std::this_thread::sleep_for(2ms);
        return readFile(mark).find("switching") != std::string::npos;
    }
    // A new qemu for vm1 on the source: a confined qemu loads the TLS credentials at its start.
    void restartSource() {
        ASSERT_EQ(src.call("vm1", "Kill").status, 0) << src.log();
        ASSERT_TRUE(src.waitProperty("vm1", "State", "s \"stopped\"", 30s)) << src.log();
        ASSERT_EQ(src.call("vm1", "Start").status, 0) << src.log();
        ASSERT_TRUE(src.waitProperty("vm1", "AgentConnected", "b true", 180s)) << src.log();
        sourcePid = src.pid("vm1");
    }
    // The VM runs on the source with the same qemu and answers; the destination has nothing.
    void expectOnSourceOnly() {
        EXPECT_EQ(src.property("vm1", "State"), "s \"running\"") << src.log();
        EXPECT_EQ(src.pid("vm1"), sourcePid);
        EXPECT_TRUE(src.waitProperty("vm1", "AgentConnected", "b true", 30s));
        auto alive = exec(src, "echo alive");
        EXPECT_NE(alive.output.find("alive"), std::string::npos) << alive.output;
        auto deadline = Clock::now() + 20s;
        while (!dst.qemuPids().empty() && Clock::now() < deadline)
            std::this_thread::sleep_for(50ms);
        EXPECT_TRUE(dst.qemuPids().empty()) << dst.log();
        if (dst.corraldRunning()) {
            EXPECT_FALSE(dst.listed("vm1"));
            while (std::filesystem::exists(dst.runtimeDir() / "vm1") && Clock::now() < deadline)
                std::this_thread::sleep_for(50ms);
            EXPECT_FALSE(std::filesystem::exists(dst.runtimeDir() / "vm1"));
        }
        EXPECT_FALSE(std::filesystem::exists(dst.instancesDir() / "vm1.toml"));
    }

    VethLink link;  // first: outlives both hosts
    MigrationHost src{"source", link.source()};
    MigrationHost dst{"destination", link.destination()};
    pid_t sourcePid = 0;
    Process migrate;
    std::filesystem::path migrateOut;
};

}  // namespace corral::test

// The destination side on its own (PrepareIncoming / AbortIncoming, their refusals and the
// deadline) and Migrate's argument checks on a source, against real corrald, dbus-daemon, busctl
// and qemu; no guest boots (an incoming qemu waits for its stream).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "hypervisor/instance_spec.hpp"
#include "hypervisor/qemu_process.hpp"
#include "hypervisor/runtime_dir.hpp"
#include "hypervisor/slot_plan.hpp"
#include "tests/integration/migration/migration_host.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;

const std::string kListen =
    "[migration]\nlisten_address = \"127.0.0.1\"\nport_range = \"49800-49819\"\n";

// The device records a source would send for `text`: its slot plan, as state.json has it.
std::string devicesOf(const std::string& text) {
    auto loaded = hypervisor::parseInstanceSpec(text, "/x/vm1.toml");
    if (!loaded.spec) throw std::runtime_error("test definition does not load");
    return hypervisor::devicesToJson(hypervisor::planSlots(*loaded.spec).devices);
}

bool waitNoQemu(MigrationHost& host, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (host.qemuPids().empty()) return true;
        std::this_thread::sleep_for(50ms);
    }
    return false;
}

class Incoming : public ::testing::Test {
  protected:
    CommandResult prepare(const std::string& name, const std::string& text,
                          const std::string& devices, std::vector<std::string> options = {"0"}) {
        std::vector<std::string> args = {"sssa{sv}", name, text, devices};
        args.insert(args.end(), options.begin(), options.end());
        return host.manager("PrepareIncoming", args);
    }
    void expectClean(const std::string& name) {
        EXPECT_TRUE(waitNoQemu(host, 10s)) << host.log();
        EXPECT_FALSE(std::filesystem::exists(host.runtimeDir() / name));
        EXPECT_FALSE(std::filesystem::exists(host.instancesDir() / (name + ".toml")));
        EXPECT_FALSE(host.listed(name));
    }
    MigrationHost host{"destination"};
};

TEST_F(Incoming, PrepareStartsAnUnpublishedQemuThatAbortRemoves) {
    host.start(kListen);
    auto text = guestDefinition();
    auto prepared = prepare("vm1", text, devicesOf(text));
    ASSERT_EQ(prepared.status, 0) << prepared.output << host.log();
    EXPECT_NE(prepared.output.find("s \"tcp:127.0.0.1:498"), std::string::npos) << prepared.output;
    auto pids = host.qemuPids();
    ASSERT_EQ(pids.size(), 1u) << host.log();
    auto argv = hypervisor::processCmdline(pids[0]);
    ASSERT_TRUE(argv);
    EXPECT_NE(std::find(argv->begin(), argv->end(), "-incoming"), argv->end());
    // Nothing is published and nothing written until FinishIncoming.
    EXPECT_FALSE(host.listed("vm1"));
    EXPECT_FALSE(std::filesystem::exists(host.instancesDir() / "vm1.toml"));
    // A second prepare of the same name is refused while the first waits.
    auto again = prepare("vm1", text, devicesOf(text));
    EXPECT_NE(again.status, 0);
    EXPECT_NE(again.output.find("exists already"), std::string::npos) << again.output;

    auto aborted = host.manager("AbortIncoming", {"s", "vm1"});
    EXPECT_EQ(aborted.status, 0) << aborted.output << host.log();
    expectClean("vm1");
    auto twice = host.manager("AbortIncoming", {"s", "vm1"});
    EXPECT_NE(twice.status, 0);
    EXPECT_NE(twice.output.find("No incoming migration of vm1"), std::string::npos) << twice.output;
    auto finish = host.manager("FinishIncoming", {"sa{sv}", "vm1", "0"});
    EXPECT_NE(finish.status, 0);
    EXPECT_NE(finish.output.find("No incoming migration of vm1"), std::string::npos)
        << finish.output;
}

TEST_F(Incoming, RefusalsStartNothing) {
    host.writeDefinition("taken", guestDefinition());
    auto pki = host.scratch() / "pki";
    host.start(kListen + "tls_dir = \"" + pki.string() + "\"\n");
    auto text = guestDefinition();
    auto devices = devicesOf(text);
    auto image = host.scratch() / "d.img";
    std::filesystem::resize_file((std::ofstream(image), image), 1 << 20);
    struct Case {
        std::string name, text, devices;
        std::vector<std::string> options;
        std::string expected;
    };
    std::vector<Case> cases = {
        {"taken", text, devices, {"0"}, "exists already on this host"},
        {"vm1", text + "\n[machine]\n", devices, {"0"}, "invalid TOML"},
        {"vm1", "[machine]\ncpus = \"x\"\n", devices, {"0"}, "cpus: expected an integer"},
        {"vm1", text, "not json", {"0"}, "not a JSON array"},
        {"vm1", text, "[]", {"0"}, "the definitions differ"},
        {"vm1",
         text,
         devicesOf(guestDefinition("[[disk]]\nid = \"d\"\npath = \"" + image.string() + "\"\n")),
         {"0"},
         "the definitions differ"},
        {"bad/name", text, devices, {"0"}, "bad instance name"},
        {"vm1", text, devices, {"1", "timeout", "s", "10"}, "must be of type 't'"},
        {"vm1", text, devices, {"1", "timeout", "t", "0"}, "timeout must be 1 to"},
        {"vm1", text, devices, {"1", "speed", "t", "1"}, "unknown option 'speed'"},
        {"vm1", text, devices, {"1", "tls", "s", "on"}, "option 'tls' must be of type 'b'"},
        {"vm1",
         text,
         devices,
         {"1", "tls", "b", "true"},
         "vm1: cannot receive it over TLS: tls needs " + (pki / "ca-cert.pem").string() +
             " (No such file or directory); see [migration] tls_dir in corral.toml."},
    };
    for (const auto& c : cases) {
        auto result = prepare(c.name, c.text, c.devices, c.options);
        EXPECT_NE(result.status, 0) << c.expected;
        EXPECT_NE(result.output.find(c.expected), std::string::npos)
            << "expected '" << c.expected << "' in: " << result.output;
        EXPECT_TRUE(host.qemuPids().empty()) << c.expected;
    }
    expectClean("vm1");
    EXPECT_TRUE(host.listed("taken"));
}

TEST_F(Incoming, AnIncomingVmNobodyFinishesIsDiscardedAtItsTimeout) {
    host.start(kListen);
    auto text = guestDefinition();
    auto prepared = prepare("vm1", text, devicesOf(text), {"1", "timeout", "t", "2"});
    ASSERT_EQ(prepared.status, 0) << prepared.output << host.log();
    EXPECT_EQ(host.qemuPids().size(), 1u);
    EXPECT_TRUE(waitNoQemu(host, 15s)) << host.log();
    expectClean("vm1");
    EXPECT_NE(host.log().find("no FinishIncoming within the timeout"), std::string::npos);
}

TEST_F(Incoming, MigrateChecksItsArgumentsAndLeavesTheVmAlone) {
    host.writeDefinition("vm1", guestDefinition());
    host.start(kListen);
    struct Case {
        std::vector<std::string> args;
        std::string expected;
    };
    std::string dest = "unix:path=/nonexistent/bus";
    std::vector<Case> cases = {
        {{"sa{sv}", dest, "1", "bandwidth", "s", "fast"}, "must be of type 't'"},
        {{"sa{sv}", dest, "1", "bandwidth", "t", "0"}, "bandwidth must be at least"},
        {{"sa{sv}", dest, "1", "downtime_ms", "t", "3000000"}, "downtime_ms must be 1 to"},
        {{"sa{sv}", dest, "2", "postcopy", "s", "auto", "storage", "s", "copy"},
         "postcopy cannot be combined with storage copy"},
        {{"sa{sv}", dest, "1", "postcopy", "s", "sometimes"}, "postcopy must be never"},
        {{"sa{sv}", dest, "1", "storage", "s", "local"}, "storage must be shared or copy"},
        {{"sa{sv}", dest, "1", "tls", "s", "yes"}, "option 'tls' must be of type 'b'"},
        {{"sa{sv}", dest, "1", "timeout", "t", "100000"}, "timeout must be 1 to"},
        {{"sa{sv}", dest, "2", "timeout", "t", "5", "timeout", "t", "6"}, "given twice"},
        {{"sa{sv}", dest, "1", "colour", "s", "red"}, "unknown option 'colour'"},
        {{"sa{sv}", "-oProxyCommand=x", "0"}, "neither a D-Bus address"},
        {{"sa{sv}", "", "0"}, "destination is empty"},
        // Valid arguments, but the VM does not run.
        {{"sa{sv}", dest, "0"}, "start it first"},
    };
    for (const auto& c : cases) {
        auto result = host.call("vm1", "Migrate", c.args);
        EXPECT_NE(result.status, 0) << c.expected;
        EXPECT_NE(result.output.find(c.expected), std::string::npos)
            << "expected '" << c.expected << "' in: " << result.output;
    }
    EXPECT_EQ(host.property("vm1", "State"), "s \"stopped\"");
    EXPECT_EQ(host.property("vm1", "MigrationState"), "s \"none\"");
    auto cancel = host.call("vm1", "CancelMigration");
    EXPECT_NE(cancel.status, 0);
    EXPECT_NE(cancel.output.find("is not being migrated"), std::string::npos) << cancel.output;
}

}  // namespace
}  // namespace corral::test

// The generic AttachDevice under a real corrald and qemu (no guest is waited for): over D-Bus and
// through `corralctl attach`, every option lands in QEMU and in state.json, and a state.json of
// the first format (no options) is reattached by a new corrald as an upgrade leaves it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <regex>

#include "hypervisor/runtime_dir.hpp"
#include "tests/integration/hypervisor/corralctl_run.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

class AttachDevice : public CorraldFixture {
  protected:
    CommandResult ctl(const std::vector<std::string>& args) {
        return corralctl(address_, args, dir_.path());
    }

    std::filesystem::path image(const std::string& name) {
        auto path = dir_ / name;
        std::ofstream(path).close();
        std::filesystem::resize_file(path, 8 << 20);
        return path;
    }

    hypervisor::RuntimeState state(const std::string& name) {
        auto paths = hypervisor::RuntimePaths::forInstance(dir_ / "run", name);
        std::string error;
        auto read = hypervisor::readState(paths, error);
        if (!read) ADD_FAILURE() << error;
        return read.value_or(hypervisor::RuntimeState{});
    }

    static const hypervisor::Device* find(const hypervisor::RuntimeState& state,
                                          const std::string& id) {
        for (const auto& device : state.devices)
            if (device.id == id) return &device;
        return nullptr;
    }
    // The result points into `state`: a temporary would leave it dangling.
    static const hypervisor::Device* find(hypervisor::RuntimeState&& state,
                                          const std::string& id) = delete;

    // A QMP command through corrald's Monitor method; busctl prints the JSON with escaped quotes.
    std::string qmp(const std::string& name, const std::string& json) {
        auto reply = call(name, "Monitor", {"s", json});
        EXPECT_EQ(reply.status, 0) << reply.output;
        return reply.output;
    }
};

TEST_F(AttachDevice, EveryOptionReachesQemuAndStateJson) {
    writeGuest("dev1");
    startCorrald();
    ASSERT_EQ(call("dev1", "Start").status, 0) << corraldLog();

    auto disk = image("d1.img");
    auto attached = call("dev1", "AttachDevice",
                         {"ssa{sv}", "disk", "d1", "3", "path", "s", disk.string(), "readonly", "b",
                          "true", "cache", "s", "unsafe"});
    ASSERT_EQ(attached.status, 0) << attached.output << corraldLog();
    EXPECT_THAT(attached.output, ::testing::StartsWith("s \"pci.0:"));

    auto nic = ctl({"attach", "dev1", "nic", "n1", "--option", "mode=user", "--option",
                    "mac=52:54:00:AB:00:01"});
    ASSERT_EQ(nic.status, 0) << nic.output << corraldLog();
    EXPECT_THAT(nic.output, ::testing::MatchesRegex("pci\\.0:[0-9a-f]{2}\\.0\n"));
    auto json = ctl({"--json", "attach", "dev1", "disk", "d2", "--option",
                     "path=" + image("d2.img").string(), "--option", "format=raw"});
    ASSERT_EQ(json.status, 0) << json.output;
    EXPECT_THAT(json.output, HasSubstr("{\"pci_address\":\"pci.0:"));

    auto devices = property("dev1", "Devices");
    EXPECT_THAT(devices, HasSubstr("\"d1\" \"disk\" \"pci.0\""));
    EXPECT_THAT(devices, HasSubstr("\"n1\" \"nic\" \"pci.0\""));

    auto recorded = state("dev1");
    const auto* d1 = find(recorded, "d1");
    ASSERT_NE(d1, nullptr);
    EXPECT_TRUE(d1->hotplugged);
    EXPECT_EQ(d1->backend, disk.string());
    EXPECT_EQ(d1->options, (hypervisor::Options{{"path", disk.string()},
                                                {"format", "raw"},
                                                {"readonly", true},
                                                {"cache", "unsafe"},
                                                {"bus", "virtio"},
                                                {"discard", "ignore"},
                                                {"aio", "threads"},
                                                {"iothread", false}}));
    const auto* n1 = find(recorded, "n1");
    ASSERT_NE(n1, nullptr);
    EXPECT_EQ(
        n1->options,
        (hypervisor::Options{{"mode", "user"}, {"model", "virtio"}, {"mac", "52:54:00:ab:00:01"}}));
    // The boot-time devices carry theirs too.
    const auto* port = find(recorded, "corral-vserial");
    ASSERT_NE(port, nullptr);
    EXPECT_EQ(port->kindName(), "virtio-serial");

    EXPECT_THAT(
        qmp("dev1", R"({"execute": "query-named-block-nodes", "arguments": {"flat": true}})"),
        HasSubstr(R"(\"ro\":true,\"node-name\":\"d1-format\")"));
    EXPECT_THAT(
        qmp("dev1", R"({"execute": "qom-get", "arguments": {"path": "/machine/peripheral/n1",
                "property": "mac"}})"),
        HasSubstr("52:54:00:ab:00:01"));
    EXPECT_EQ(call("dev1", "Kill").status, 0);
}

TEST_F(AttachDevice, CorralctlChecksKindKeysAndTypesBeforeTheCall) {
    writeGuest("dev1");
    startCorrald();
    auto kind = ctl({"attach", "dev1", "floppy", "f1"});
    EXPECT_EQ(kind.status, 2);
    EXPECT_THAT(kind.output, HasSubstr("unknown device kind 'floppy'"));
    auto key = ctl({"attach", "dev1", "nic", "n1", "--option", "vlan=7"});
    EXPECT_EQ(key.status, 2);
    EXPECT_THAT(key.output, HasSubstr("unknown option 'vlan' for a nic; it takes mode (s)"));
    auto type = ctl({"attach", "dev1", "disk", "d1", "--option", "readonly=yes"});
    EXPECT_EQ(type.status, 2);
    EXPECT_THAT(type.output, HasSubstr("\"readonly\" takes true or false"));
    auto shape = ctl({"attach", "dev1", "disk", "d1", "--option", "readonly"});
    EXPECT_EQ(shape.status, 2);
    EXPECT_THAT(shape.output, HasSubstr("--option wants KEY=VALUE"));
    // Past corralctl, corrald's own rules: the schema's (path is required) before the state.
    auto missing = ctl({"attach", "dev1", "disk", "d1"});
    EXPECT_EQ(missing.status, 2) << missing.output;
    EXPECT_THAT(missing.output, HasSubstr("Option \"path\" is required"));
    auto stopped = ctl({"attach", "dev1", "nic", "n1"});
    EXPECT_EQ(stopped.status, 5) << stopped.output;
}

// A corrald upgraded while its VMs run finds state.json as the first format wrote it: devices
// without options. It reattaches, lists them and keeps their ids and slots taken.
TEST_F(AttachDevice, StateOfTheFirstFormatIsReattached) {
    writeGuest("old1");
    startCorrald();
    ASSERT_EQ(call("old1", "Start").status, 0) << corraldLog();
    auto attached = call("old1", "AttachNic", {"sa{sv}", "n1", "0"});
    ASSERT_EQ(attached.status, 0) << attached.output;
    auto pid = this->pid("old1");
    killCorrald();

    auto file = dir_ / "run" / "old1" / "state.json";
    auto text = readFile(file);
    auto old = std::regex_replace(text, std::regex(R"(,"options":\{[^}]*\})"), "");
    ASSERT_NE(old, text);
    ASSERT_THAT(old, Not(HasSubstr("options")));
    std::ofstream(file, std::ios::trunc) << old;

    startCorrald();
    ASSERT_TRUE(waitProperty("old1", "State", "s \"running\"", 20s)) << corraldLog();
    EXPECT_EQ(this->pid("old1"), pid);
    EXPECT_THAT(property("old1", "Devices"), HasSubstr("\"n1\" \"nic\""));
    auto recorded = state("old1");
    const auto* n1 = find(recorded, "n1");
    ASSERT_NE(n1, nullptr);
    EXPECT_TRUE(n1->hotplugged);
    auto again = call("old1", "AttachNic", {"sa{sv}", "n1", "0"});
    EXPECT_NE(again.status, 0);
    EXPECT_THAT(again.output, HasSubstr("already exists")) << again.output;
    EXPECT_EQ(call("old1", "Kill").status, 0);
}

}  // namespace
}  // namespace corral::test

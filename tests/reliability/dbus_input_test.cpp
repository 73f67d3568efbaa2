// Hostile arguments at corrald's D-Bus boundary, through the real busctl on a private bus:
// names with '/', '..', 4 KiB or unicode, bad device ids, relative paths and malformed option
// dicts are refused with a sentence, and corrald keeps serving. No guest boots.
#include "tests/integration/supervisor/corrald_fixture.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include <string>
#include <utility>
#include <vector>

namespace corral::test {
namespace {

using namespace std::chrono_literals;

const std::vector<std::string> kHostileNames = {
    "a/b", "..",    "../../etc/passwd", std::string(4096, 'x'), "vm-\xc3\xa9",
    "-rf", " web1", "web1\n",           "web1.toml/../web1",    "\xe2\x80\x8bweb1"};

class DbusInput : public CorraldFixture {
  protected:
    void SetUp() override {
        std::ofstream(dir_ / "root.img") << "";
        writeFile("web1.toml", definition());
        startCorrald();
    }

    // A valid definition that needs no guest image: nothing here ever boots it.
    std::string definition() const {
        return "[machine]\ntype = \"pc\"\naccel = \"tcg\"\n[[disk]]\nid = \"root\"\npath = \"" +
               (dir_ / "root.img").string() + "\"\n";
    }

    // corrald still answers, and web1 is still the only instance.
    void expectStillServing() {
        auto list =
            busctl({"call", "org.corral1", "/org/corral1", "org.corral1.Manager", "ListInstances"});
        ASSERT_EQ(list.status, 0) << list.output << corraldLog();
        EXPECT_EQ(list.output.rfind("a(ssuo) 1 \"web1\"", 0), 0u) << list.output;
    }

    void expectRefused(const CommandResult& result, const std::string& because) {
        EXPECT_NE(result.status, 0) << result.output;
        EXPECT_NE(result.output.find(because), std::string::npos)
            << "expected '" << because << "' in: " << result.output;
    }
};

TEST_F(DbusInput, HostileInstanceNamesAreRefusedByGetInstance) {
    for (const auto& name : kHostileNames) {
        auto result = busctl({"--", "call", "org.corral1", "/org/corral1", "org.corral1.Manager",
                              "GetInstance", "s", name});
        EXPECT_NE(result.status, 0) << "accepted '" << name << "': " << result.output;
        EXPECT_NE(result.output.find("instance name"), std::string::npos) << result.output;
    }
    expectStillServing();
}

TEST_F(DbusInput, ObjectPathsOfHostileNamesDoNotExist) {
    // Two more instances whose names are the raw tails of hostile paths or need escaping: a
    // lookup that matched path tails without decoding them would find "a_2fb" at the path of
    // "a/b", and one that did not encode would miss "a.b".
    writeFile("a_2fb.toml", definition());
    writeFile("a.b.toml", definition());
    auto reload = busctl({"call", "org.corral1", "/org/corral1", "org.corral1.Manager", "Reload"});
    ASSERT_EQ(reload.status, 0) << reload.output << corraldLog();
    const std::vector<std::pair<std::string, std::string>> real = {
        {"web1", "/org/corral1/instance/web1"},
        {"a_2fb", "/org/corral1/instance/a_5f2fb"},
        {"a.b", "/org/corral1/instance/a_2eb"}};
    for (const auto& [name, path] : real) {
        auto found = busctl({"call", "org.corral1", "/org/corral1", "org.corral1.Manager",
                             "GetInstance", "s", name});
        ASSERT_EQ(found.status, 0) << name << ": " << found.output;
        EXPECT_EQ(found.output, "o \"" + path + "\"\n") << name;
        // The same call as below, on a path that exists: it answers.
        auto state = busctl({"get-property", "org.corral1", path, "org.corral1.Instance", "State"});
        EXPECT_EQ(state.status, 0) << path << ": " << state.output;
        EXPECT_EQ(state.output, "s \"stopped\"\n") << path;
    }
    // sd_bus_path_encode of "..", "a/b" and "../etc", and an empty name: escaped, never
    // resolved to a file or to another instance.
    for (const auto& path : {"/org/corral1/instance/_2e_2e", "/org/corral1/instance/a_2fb",
                             "/org/corral1/instance/_2e_2e_2fetc", "/org/corral1/instance/_"}) {
        auto result =
            busctl({"get-property", "org.corral1", path, "org.corral1.Instance", "State"});
        EXPECT_NE(result.status, 0) << path << ": " << result.output;
        EXPECT_NE(result.output.find("Unknown object"), std::string::npos)
            << path << ": " << result.output;
    }
    auto list =
        busctl({"call", "org.corral1", "/org/corral1", "org.corral1.Manager", "ListInstances"});
    ASSERT_EQ(list.status, 0) << list.output << corraldLog();
    EXPECT_EQ(list.output.rfind("a(ssuo) 3 ", 0), 0u) << list.output;
}

TEST_F(DbusInput, BadDeviceIdsAreRefused) {
    for (const std::string& id : {std::string("../x"), std::string("a/b"), std::string(4096, 'd'),
                                  std::string("vm-\xc3\xa9"), std::string("")}) {
        expectRefused(call("web1", "AttachDisk", {"ssa{sv}", id, "/tmp/disk.img", "0"}),
                      "device id");
        expectRefused(call("web1", "AttachNic", {"sa{sv}", id, "0"}), "device id");
        expectRefused(call("web1", "Detach", {"s", id}), "device id");
    }
    expectStillServing();
}

// 2^64 - 1 µs once became a negative duration and left a running VM shutting down forever.
TEST_F(DbusInput, TimeoutsBeyondAYearAreRefused) {
    expectRefused(call("web1", "Shutdown", {"t", "18446744073709551615"}),
                  "Shutdown: timeout_usec: 18446744073709551615 us is more than the longest");
    expectRefused(call("web1", "Shutdown", {"t", "31536000000001"}), "longest timeout, one year");
    expectRefused(call("web1", "GuestExecute", {"asst", "1", "true", "", "18446744073709551615"}),
                  "GuestExecute: timeout_usec");
    // A year itself passes the rule (and then meets the stopped VM).
    auto year = call("web1", "Shutdown", {"t", "31536000000000"});
    EXPECT_EQ(year.output.find("longest timeout"), std::string::npos) << year.output;
    expectStillServing();
}

TEST_F(DbusInput, RelativeDiskPathIsRefused) {
    expectRefused(call("web1", "AttachDisk", {"ssa{sv}", "d1", "disk.img", "0"}),
                  "must be absolute");
    expectRefused(call("web1", "AttachDisk", {"ssa{sv}", "d1", "../../etc/shadow", "0"}),
                  "must be absolute");
}

TEST_F(DbusInput, MalformedOptionDictsAreRefused) {
    expectRefused(
        call("web1", "AttachDisk", {"ssa{sv}", "d1", "/tmp/disk.img", "1", "cache", "s", "none"}),
        "Unknown option");
    expectRefused(
        call("web1", "AttachDisk", {"ssa{sv}", "d1", "/tmp/disk.img", "1", "readonly", "u", "1"}),
        "must be a string or a boolean");
    expectRefused(call("web1", "AttachNic", {"sa{sv}", "n1", "1", "mode", "s", "vhost"}),
                  "is not one of");
    expectRefused(call("web1", "AttachNic", {"sa{sv}", "n1", "1", "mode", "as", "1", "tap"}),
                  "must be a string or a boolean");
    expectStillServing();
}

TEST_F(DbusInput, KnownOptionOfTheWrongTypeIsRefused) {
    // "readonly" given as a string must not be silently taken as false (a writable disk).
    expectRefused(call("web1", "AttachDisk",
                       {"ssa{sv}", "d1", "/tmp/disk.img", "1", "readonly", "s", "true"}),
                  "readonly");
}

TEST_F(DbusInput, OversizedOptionDictIsRefusedBySize) {
    // corrald stops copying a dict after 25 entries, however long the message is.
    std::vector<std::string> args = {"sa{sv}", "n1", "20000"};
    for (int i = 0; i < 20000; ++i) args.insert(args.end(), {"mac", "s", "52:54:00:12:34:56"});
    expectRefused(call("web1", "AttachNic", args), "at most 24 options");
    expectStillServing();
}

TEST_F(DbusInput, DefinitionFilesWithHostileNamesAreNotLoaded) {
    writeFile("bad name.toml", "");
    writeFile("-rf.toml", "");
    writeFile("named.toml", "name = \"../../etc/evil\"\n");
    auto reload = busctl({"call", "org.corral1", "/org/corral1", "org.corral1.Manager", "Reload"});
    ASSERT_EQ(reload.status, 0) << reload.output;
    auto list =
        busctl({"call", "org.corral1", "/org/corral1", "org.corral1.Manager", "ListInstances"});
    ASSERT_EQ(list.status, 0) << list.output;
    EXPECT_EQ(list.output.find("bad name"), std::string::npos) << list.output;
    EXPECT_EQ(list.output.find("-rf"), std::string::npos) << list.output;
    EXPECT_EQ(list.output.find("../"), std::string::npos) << list.output;
    EXPECT_NE(list.output.find("\"web1\""), std::string::npos) << list.output;
}

}  // namespace
}  // namespace corral::test

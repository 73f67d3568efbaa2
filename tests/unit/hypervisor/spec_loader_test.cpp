// Loader diagnostics: each error kind at its exact line:column, all errors of a file at once.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "hypervisor/instance_spec.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::hypervisor {
namespace {

using ::testing::ElementsAre;

class SpecLoader : public ::testing::Test {
  protected:
    SpecLoader() {
        std::ofstream(dir_ / "disk.img") << "x";
        std::ofstream(dir_ / "vmlinuz") << "x";
    }

    std::string disk() const { return (dir_ / "disk.img").string(); }
    std::string kernel() const { return (dir_ / "vmlinuz").string(); }

    // Diagnostics formatted, for compact comparisons.
    std::vector<std::string> errors(const std::string& text, const std::string& file = "vm.toml") {
        auto result = parseInstanceSpec(text, file);
        std::vector<std::string> out;
        for (const auto& d : result.diagnostics) out.push_back(d.format());
        EXPECT_EQ(result.ok(), out.empty());
        return out;
    }

    test::TempDir dir_;
};

TEST_F(SpecLoader, FillsDefaults) {
    auto result = parseInstanceSpec("[boot]\nkernel = \"" + kernel() + "\"\n", "/etc/web1.toml");
    ASSERT_TRUE(result.ok());
    const auto& spec = *result.spec;
    EXPECT_EQ(spec.name, "web1");
    EXPECT_EQ(spec.machine.type, MachineType::Q35);
    EXPECT_EQ(spec.machine.accel, Accel::KvmOrTcg);
    EXPECT_EQ(spec.machine.cpus, 1u);
    EXPECT_EQ(spec.machine.memoryBytes, 512ull << 20);
    EXPECT_EQ(spec.machine.hotplugSlots, 8u);
    EXPECT_TRUE(spec.agent.negotiator);
    EXPECT_EQ(spec.lifecycle.shutdownTimeout, std::chrono::seconds(120));
    EXPECT_EQ(spec.lifecycle.onCrash, OnCrash::Stop);
    EXPECT_FALSE(spec.resources.memoryMax);
    EXPECT_EQ(spec.machine.uuid, "77747317-3d21-58b3-98ec-483402fa9547");  // derived from "web1"
}

TEST_F(SpecLoader, ReadsEveryKey) {
    auto result = parseInstanceSpec(R"(name = "db.1"
[machine]
type = "pc"
accel = "tcg"
cpus = 4
memory = "2G"
hotplug_slots = 2
uuid = "0A1B2C3D-4E5F-4a6b-8c7d-9e0f1a2b3c4d"
[[disk]]
id = "root"
path = ")" + disk() + R"("
format = "qcow2"
readonly = true
cache = "none"
[[nic]]
id = "lan"
mode = "bridge"
bridge = "br0"
mac = "52:54:00:AB:cd:01"
[[nic]]
mode = "user"
[agent]
negotiator = false
[lifecycle]
shutdown_timeout = "90s"
on_crash = "restart"
autostart = true
[resources]
memory_max = "3G"
cpu_weight = 200
)",
                                    "x.toml");
    ASSERT_TRUE(result.ok()) << result.diagnostics[0].format();
    const auto& s = *result.spec;
    EXPECT_EQ(s.name, "db.1");
    EXPECT_EQ(s.machine.type, MachineType::Pc);
    EXPECT_EQ(s.machine.memoryBytes, 2ull << 30);
    EXPECT_EQ(s.machine.accel, Accel::Tcg);
    EXPECT_EQ(s.machine.uuid, "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d");
    ASSERT_EQ(s.devices.size(), 3u);
    const auto& root = s.devices[0];
    EXPECT_EQ(root.kindName(), "disk");
    EXPECT_EQ(root.text("path"), disk());
    EXPECT_EQ(root.backend, disk());
    EXPECT_EQ(root.text("format"), "qcow2");
    EXPECT_TRUE(root.flag("readonly"));
    EXPECT_EQ(root.text("cache"), "none");
    const auto& lan = s.devices[1];
    EXPECT_EQ(lan.kindName(), "nic");
    EXPECT_EQ(lan.text("mode"), "bridge");
    EXPECT_EQ(lan.text("mac"), "52:54:00:ab:cd:01");
    EXPECT_EQ(lan.text("bridge"), "br0");
    EXPECT_EQ(s.devices[2].id, "net1");
    EXPECT_EQ(s.devices[2].text("mac"), derivedMac("db.1", "net1"));
    EXPECT_FALSE(s.agent.negotiator);
    EXPECT_EQ(s.lifecycle.shutdownTimeout, std::chrono::seconds(90));
    EXPECT_EQ(s.lifecycle.onCrash, OnCrash::Restart);
    EXPECT_TRUE(s.lifecycle.autostart);
    EXPECT_EQ(*s.resources.memoryMax, 3ull << 30);
    EXPECT_EQ(*s.resources.cpuWeight, 200u);
}

TEST_F(SpecLoader, DevicesGetEveryDefaultOfTheirKind) {
    auto result = parseInstanceSpec("[[disk]]\npath = \"" + disk() + "\"\n[[nic]]\n", "vm.toml");
    ASSERT_TRUE(result.ok()) << result.diagnostics[0].format();
    const auto& devices = result.spec->devices;
    ASSERT_EQ(devices.size(), 2u);
    EXPECT_EQ(devices[0].id, "disk0");
    EXPECT_EQ(devices[0].options, (Options{{"path", disk()},
                                           {"format", "raw"},
                                           {"readonly", false},
                                           {"cache", "writeback"},
                                           {"bus", "virtio"},
                                           {"discard", "ignore"},
                                           {"aio", "threads"},
                                           {"iothread", false}}));
    EXPECT_EQ(devices[1].id, "net0");
    EXPECT_EQ(devices[1].options,
              (Options{{"mode", "user"}, {"model", "virtio"}, {"mac", derivedMac("vm", "net0")}}));
}

TEST_F(SpecLoader, RngReadsUrandomUnlessToldOtherwise) {
    auto result =
        parseInstanceSpec("[boot]\nkernel = \"" + kernel() +
                              "\"\n[[rng]]\n[[rng]]\nid = \"hw\"\nbackend = \"" + disk() + "\"\n",
                          "vm.toml");
    ASSERT_TRUE(result.ok()) << result.diagnostics[0].format();
    const auto& devices = result.spec->devices;
    ASSERT_EQ(devices.size(), 2u);
    EXPECT_EQ(devices[0].id, "rng0");
    EXPECT_EQ(devices[0].kindName(), "rng");
    EXPECT_EQ(devices[0].options, (Options{{"backend", "/dev/urandom"}}));
    EXPECT_EQ(devices[0].backend, "/dev/urandom");
    EXPECT_EQ(devices[1].backend, disk());
    EXPECT_THAT(errors("[boot]\nkernel = \"" + kernel() +
                       "\"\n[[rng]]\nbackend = \"/nonexistent/rng\"\nfilename = \"x\"\n"),
                ElementsAre("vm.toml:4:11: error: backend: \"/nonexistent/rng\" does not exist",
                            "vm.toml:5:1: error: unknown key \"filename\" in [[rng]]"));
}

TEST_F(SpecLoader, DeviceTablesFollowTheirSchema) {
    EXPECT_THAT(errors("[[disk]]\nformat = \"vmdk\"\n"),
                ElementsAre("vm.toml:1:1: error: [[disk]]: \"path\" is required",
                            "vm.toml:2:10: error: format: expected one of \"raw\" | \"qcow2\", "
                            "got \"vmdk\""));
    EXPECT_THAT(errors("[[disk]]\npath = \"" + disk() + "\"\nreadonly = \"yes\"\n"),
                ElementsAre("vm.toml:3:12: error: readonly: expected a boolean (true or false), "
                            "got a string"));
    EXPECT_THAT(errors("[[disk]]\npath = \"" + disk() + "\"\n[[nic]]\nbridge = \"br0\"\n"),
                ElementsAre("vm.toml:4:10: error: bridge: only meaningful with mode = \"bridge\""));
    EXPECT_THAT(errors("[[disk]]\npath = \"" + disk() +
                       "\"\n[[nic]]\nmode = \"bridge\"\n"
                       "bridge = \"br/0\"\n"),
                ElementsAre(::testing::StartsWith(
                    "vm.toml:5:10: error: bridge: expected a network interface name: ")));
    EXPECT_THAT(errors("[[disk]]\npath = \"" + disk() + "\"\n[[nick]]\n"),
                ElementsAre("vm.toml:3:3: error: unknown key \"nick\" in the top level; did you "
                            "mean \"nic\"?"));
}

TEST_F(SpecLoader, UnknownKeySuggestsClosestKey) {
    EXPECT_THAT(errors("[boot]\nkernel = \"" + kernel() + "\"\n[machine]\n  memroy = \"1G\"\n"),
                ElementsAre("vm.toml:4:3: error: unknown key \"memroy\" in [machine]; "
                            "did you mean \"memory\"?"));
    EXPECT_THAT(errors("frobnicate = 1\n[boot]\nkernel = \"" + kernel() + "\"\n"),
                ElementsAre("vm.toml:1:1: error: unknown key \"frobnicate\" in the top level"));
}

TEST_F(SpecLoader, WrongTypeNamesExpectedType) {
    EXPECT_THAT(errors("[boot]\nkernel = \"" + kernel() + "\"\n[machine]\ncpus = \"two\"\n"),
                ElementsAre("vm.toml:4:8: error: cpus: expected an integer, got a string"));
    EXPECT_THAT(errors("boot = 3\n[[disk]]\npath = \"" + disk() + "\"\n"),
                ElementsAre("vm.toml:1:8: error: boot: expected a table ([boot]), got an integer"));
    EXPECT_THAT(errors("[disk]\npath = \"" + disk() + "\"\n"),
                ElementsAre("vm.toml:1:1: error: disk: expected an array of tables ([[disk]]), "
                            "got a table"));
}

TEST_F(SpecLoader, BadValuesSayWhatIsExpected) {
    EXPECT_THAT(
        errors("[boot]\nkernel = \"" + kernel() +
               "\"\n[machine]\ntype = \"q36\"\nmemory = \"1Q\"\ncpus = 0\n"
               "[lifecycle]\nshutdown_timeout = \"soon\"\n"),
        ElementsAre(
            "vm.toml:4:8: error: type: expected one of \"pc\" | \"q35\", got \"q36\"",
            "vm.toml:5:10: error: memory: expected a size such as \"512M\" or \"2G\", got \"1Q\"",
            "vm.toml:6:8: error: cpus: expected an integer from 1 to 255, got 0",
            "vm.toml:8:20: error: shutdown_timeout: expected a positive duration such as "
            "\"120s\", \"500ms\" or \"2m\", got \"soon\""));
}

TEST_F(SpecLoader, UuidMustBeCanonical) {
    auto boot = "[boot]\nkernel = \"" + kernel() + "\"\n";
    auto why = [](const std::string& at, const std::string& got) {
        return "vm.toml:" + at +
               ": error: uuid: expected a UUID such as \"2430af46-a0e4-48af-86b5-d6c00f20cbe7\" "
               "(32 hex digits in groups of 8-4-4-4-12), got \"" +
               got + "\"";
    };
    EXPECT_THAT(errors(boot + "[machine]\nuuid = \"0a1b2c3d4e5f4a6b8c7d9e0f1a2b3c4d\"\n"),
                ElementsAre(why("4:8", "0a1b2c3d4e5f4a6b8c7d9e0f1a2b3c4d")));
    EXPECT_THAT(
        errors(boot + "[machine]\ncpus = 1\nuuid = \"0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4g\"\n"),
        ElementsAre(why("5:8", "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4g")));
    EXPECT_THAT(errors(boot + "[machine]\nuuid = 7\n"),
                ElementsAre("vm.toml:4:8: error: uuid: expected a string, got an integer"));
}

TEST_F(SpecLoader, DuplicateDeviceIdAndMac) {
    auto d = "path = \"" + disk() + "\"\n";
    EXPECT_THAT(errors("[[disk]]\nid = \"a\"\n" + d +
                       "[[nic]]\nid = \"a\"\nmac = "
                       "\"52:54:00:00:00:01\"\n[[nic]]\nmac = \"52:54:00:00:00:01\"\n"),
                ElementsAre("vm.toml:5:6: error: duplicate device id \"a\" (first used at line 2)",
                            "vm.toml:8:7: error: duplicate MAC address 52:54:00:00:00:01 "
                            "(first used at line 6)"));
}

TEST_F(SpecLoader, DiskPathMustExistAndBeReadable) {
    EXPECT_THAT(errors("[[disk]]\npath = \"/nonexistent/x.img\"\n"),
                ElementsAre("vm.toml:2:8: error: path: \"/nonexistent/x.img\" does not exist"));
    EXPECT_THAT(errors("[[disk]]\npath = \"relative.img\"\n"),
                ElementsAre("vm.toml:2:8: error: path: expected an absolute path, got "
                            "\"relative.img\""));
}

TEST_F(SpecLoader, InvalidInstanceName) {
    EXPECT_THAT(errors("name = \"a/../evil\"\n[[disk]]\npath = \"" + disk() + "\"\n"),
                ElementsAre("vm.toml:1:8: error: name: instance name may contain only letters, "
                            "digits, '_', '.' and '-'; found '/'"));
    auto fromFile = errors("[[disk]]\npath = \"" + disk() + "\"\n", "bad name.toml");
    ASSERT_EQ(fromFile.size(), 1u);
    EXPECT_THAT(fromFile[0], ::testing::StartsWith("bad name.toml:1:1: error: the file name"));
}

TEST_F(SpecLoader, ReportsAllErrorsInFileOrder) {
    auto all = errors(
        "nmae = \"x\"\n[machine]\ncpus = -1\n[[disk]]\npath = \"/no\"\n"
        "[[nic]]\nmode = \"tun\"\nmac = \"ff:ff:ff:ff:ff:ff\"\n");
    ASSERT_EQ(all.size(), 5u);
    EXPECT_THAT(all[0], ::testing::HasSubstr("1:1: error: unknown key \"nmae\""));
    EXPECT_THAT(all[1], ::testing::HasSubstr("3:8: error: cpus"));
    EXPECT_THAT(all[2], ::testing::HasSubstr("5:8: error: path"));
    EXPECT_THAT(all[3], ::testing::HasSubstr("7:8: error: mode: expected one of"));
    EXPECT_THAT(all[4], ::testing::HasSubstr("8:7: error: mac: expected a unicast MAC"));
}

TEST_F(SpecLoader, SyntaxErrorHasPosition) {
    EXPECT_THAT(errors("[machine]\ncpus = = 2\n"),
                ElementsAre(::testing::StartsWith("vm.toml:2:8: error: invalid TOML:")));
}

TEST_F(SpecLoader, NothingToBootFrom) {
    EXPECT_THAT(errors("[machine]\ncpus = 1\n"),
                ElementsAre("vm.toml:1:1: error: nothing to boot from: add [boot] with a kernel "
                            "or a [[disk]] or a [[cdrom]]"));
}

TEST_F(SpecLoader, BridgeModeNeedsBridge) {
    EXPECT_THAT(errors("[[disk]]\npath = \"" + disk() + "\"\n[[nic]]\nmode = \"bridge\"\n"),
                ElementsAre("vm.toml:3:1: error: [[nic]]: mode = \"bridge\" needs \"bridge\" "
                            "(the bridge name)"));
}

TEST_F(SpecLoader, MissingFileIsADiagnostic) {
    auto result = loadInstanceSpec(dir_ / "absent.toml");
    ASSERT_EQ(result.diagnostics.size(), 1u);
    EXPECT_THAT(result.diagnostics[0].format(),
                ::testing::EndsWith("cannot open the file for reading"));
}

TEST(Units, SizesAndDurations) {
    EXPECT_EQ(parseSize("2G"), 2ull << 30);
    EXPECT_EQ(parseSize("512M"), 512ull << 20);
    EXPECT_EQ(parseSize("4096"), 4096u);
    EXPECT_EQ(parseSize("1GiB"), 1ull << 30);
    EXPECT_EQ(parseSize("G"), std::nullopt);
    EXPECT_EQ(parseSize("-1G"), std::nullopt);
    EXPECT_EQ(parseSize("99999999999T"), std::nullopt);
    EXPECT_EQ(parseDuration("120s"), std::chrono::seconds(120));
    EXPECT_EQ(parseDuration("500ms"), std::chrono::milliseconds(500));
    EXPECT_EQ(parseDuration("2m"), std::chrono::minutes(2));
    EXPECT_EQ(parseDuration("1h"), std::chrono::hours(1));
    EXPECT_EQ(parseDuration("10"), std::nullopt);
    EXPECT_EQ(parseDuration("1d"), std::nullopt);
}

TEST_F(SpecLoader, KernelAndInitrdMustBeRegularFiles) {
    std::string dir = dir_.path().string();
    EXPECT_THAT(errors("[boot]\nkernel = \"" + dir + "\"\ninitrd = \"/dev/null\"\n"),
                ElementsAre("vm.toml:2:10: error: kernel: \"" + dir + "\" is a directory",
                            "vm.toml:3:10: error: initrd: \"/dev/null\" is not a regular file"));
}

TEST_F(SpecLoader, CmdlineIsBounded) {
    std::string boot = "[boot]\nkernel = \"" + kernel() + "\"\ncmdline = \"";
    EXPECT_TRUE(
        parseInstanceSpec(boot + std::string(kMaxCmdlineBytes, 'x') + "\"\n", "vm.toml").ok());
    EXPECT_THAT(errors(boot + std::string(1 << 20, 'x') + "\"\n"),
                ElementsAre("vm.toml:3:11: error: cmdline: 1048576 bytes is over the limit of 4096 "
                            "bytes (Linux truncates at COMMAND_LINE_SIZE, 2048 on x86 unless built "
                            "larger)"));
}

TEST_F(SpecLoader, DiskPathIsAFileOrBlockDevice) {
    std::string dir = dir_.path().string();
    EXPECT_THAT(errors("[[disk]]\npath = \"/dev/null\"\n[[disk]]\npath = \"" + dir + "\"\n"),
                ElementsAre("vm.toml:2:8: error: path: \"/dev/null\" is a character device, not a "
                            "disk image or block device",
                            "vm.toml:4:8: error: path: \"" + dir + "\" is a directory"));
    // The entropy source is a character device and stays accepted.
    EXPECT_TRUE(
        parseInstanceSpec(
            "[[disk]]\npath = \"" + disk() + "\"\n[[rng]]\nbackend = \"/dev/urandom\"\n", "vm.toml")
            .ok());
}
}  // namespace
}  // namespace corral::hypervisor

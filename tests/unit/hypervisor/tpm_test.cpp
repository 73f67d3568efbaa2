// [tpm]: diagnostics, qemu's arguments and swtpm's command line.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "hypervisor/instance_spec.hpp"
#include "hypervisor/qemu_argv.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::hypervisor {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class Tpm : public ::testing::Test {
  protected:
    Tpm() { std::ofstream(dir_ / "vmlinuz") << "x"; }
    LoadResult load(const std::string& tpm) {
        return parseInstanceSpec(
            "[boot]\nkernel = \"" + (dir_ / "vmlinuz").string() + "\"\n[tpm]\n" + tpm, "vm1.toml");
    }
    std::vector<std::string> errors(const std::string& tpm) {
        std::vector<std::string> out;
        for (const auto& d : load(tpm).diagnostics) out.push_back(d.format());
        return out;
    }
    test::TempDir dir_;
};

TEST_F(Tpm, NoneByDefaultAndNoArguments) {
    auto result =
        parseInstanceSpec("[boot]\nkernel = \"" + (dir_ / "vmlinuz").string() + "\"\n", "vm1.toml");
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(result.spec->tpm.type, TpmType::None);
    auto argv = buildQemuArgv(*result.spec, planSlots(*result.spec),
                              RuntimePaths::forInstance("/run/corral", "vm1"));
    for (const auto& arg : argv) EXPECT_EQ(arg.find("tpm"), std::string::npos) << arg;
}

TEST_F(Tpm, Tpm2IsACrbDeviceOnTheSwtpmSocket) {
    auto result = load("type = \"tpm2\"\n");
    ASSERT_TRUE(result.ok());
    auto argv = buildQemuArgv(*result.spec, planSlots(*result.spec),
                              RuntimePaths::forInstance("/run/corral", "vm1"));
    auto at = std::find(argv.begin(), argv.end(), "-tpmdev");
    ASSERT_NE(at, argv.end());
    ASSERT_GE(at - argv.begin(), 2);
    EXPECT_THAT(std::vector<std::string>(at - 2, at + 4),
                ElementsAre("-chardev", "socket,id=corral-tpm,path=/run/corral/vm1/swtpm.sock",
                            "-tpmdev", "emulator,id=corral-tpm0,chardev=corral-tpm", "-device",
                            "tpm-crb,tpmdev=corral-tpm0"));
}

TEST_F(Tpm, SwtpmCommandLine) {
    EXPECT_THAT(
        swtpmArgv("/usr/bin/swtpm", tpmStateDir("/var/lib/corral", "vm1"), "/run/corral/vm1"),
        ElementsAre("/usr/bin/swtpm", "socket", "--tpm2", "--tpmstate",
                    "dir=/var/lib/corral/vm1/tpm,mode=0600", "--ctrl",
                    "type=unixio,path=/run/corral/vm1/swtpm.sock,mode=0600", "--pid",
                    "file=/run/corral/vm1/swtpm.pid", "--log", "file=/run/corral/vm1/swtpm.log",
                    "--terminate"));
}

TEST_F(Tpm, ConfinedSwtpmNamesNoPathAndDropsToTheUid) {
    EXPECT_THAT(swtpmArgv("/usr/bin/swtpm", tpmStateDir("/var/lib/corral", "vm1"),
                          "/run/corral/vm1", 70003),
                ElementsAre("/usr/bin/swtpm", "socket", "--tpm2", "--tpmstate", "dir=.,mode=0600",
                            "--ctrl", "type=unixio,fd=3", "--log", "fd=1", "--terminate", "--runas",
                            "70003", "--seccomp", "action=kill"));
}

TEST_F(Tpm, BadValuesAtTheirPosition) {
    EXPECT_THAT(errors("type = \"tpm1.2\"\n"),
                ElementsAre("vm1.toml:4:8: error: type: expected one of \"none\" | \"tpm2\", got "
                            "\"tpm1.2\""));
    EXPECT_THAT(errors("version = 2\n"),
                ElementsAre(HasSubstr("vm1.toml:4:1: error: unknown key \"version\" in [tpm]")));
    EXPECT_THAT(errors("type = 2\n"),
                ElementsAre("vm1.toml:4:8: error: type: expected a string, got an integer"));
}

}  // namespace
}  // namespace corral::hypervisor

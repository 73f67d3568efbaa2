// Our built-in guest commands (agent/builtin-commands) on this host, installed as the package
// installs them: with the stand-in tools of tests/fixtures/negotiator/tools first in PATH they
// print exactly what python-negotiator's own scripts printed with the same tools, and without
// lsb_release they read os-release as Debian's lsb_release does.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>

#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/agent/negotiator_fixtures.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class BuiltinCommands : public ::testing::Test {
  protected:
    void SetUp() override {
        // As agent/CMakeLists.txt installs them: find-distribution under three names.
        auto source = fs::path(CORRAL_SOURCE_DIR) / "agent" / "builtin-commands";
        fs::create_directories(dir_ / "builtin");
        for (const char* name :
             {"find-distributor-id", "find-distribution-release", "find-distribution-codename"})
            fs::copy_file(source / "find-distribution", dir_ / "builtin" / name);
        for (const char* name : {"find-disk-usage", "find-ip-addresses"})
            fs::copy_file(source / name, dir_ / "builtin" / name);
        // lsb_release that fails, as on a guest without it.
        fs::create_directories(dir_ / "nolsb");
        std::ofstream(dir_ / "nolsb" / "lsb_release") << "#!/bin/sh\nexit 127\n";
        fs::permissions(dir_ / "nolsb" / "lsb_release", fs::perms::owner_all);
    }
    struct Run {
        int status;
        std::string out;
    };
    Run run(const std::string& command, const std::string& pathFirst,
            const std::string& osRelease = "") {
        std::vector<std::string> argv = {"env", "PATH=" + pathFirst + ":/usr/bin:/bin"};
        if (!osRelease.empty()) argv.push_back("LSB_OS_RELEASE=" + osRelease);
        argv.push_back((dir_ / "builtin" / command).string());
        auto log = dir_ / (command + ".out");
        fs::remove(log);
        auto process = Process::spawn(argv, log);
        auto status = process.wait(20s);
        return {status ? WEXITSTATUS(*status) : -1, readFile(log)};
    }
    std::string osRelease(const std::string& name, const std::string& text) {
        auto file = dir_ / name;
        std::ofstream(file) << text;
        return file.string();
    }

    TempDir dir_;
};

TEST_F(BuiltinCommands, PrintWhatTheOriginalsPrintedWithTheSameTools) {
    auto tools = (negotiatorFixtures() / "tools").string();
    for (const char* name :
         {"find-distributor-id", "find-distribution-release", "find-distribution-codename",
          "find-disk-usage", "find-ip-addresses"}) {
        auto expected =
            readFile(negotiatorFixtures() / ("builtin-" + std::string(name) + ".stdout"));
        ASSERT_FALSE(expected.empty()) << name;
        auto ran = run(name, tools);
        EXPECT_EQ(ran.status, 0) << name << ": " << ran.out;
        EXPECT_EQ(ran.out, expected) << name;
    }
}

TEST_F(BuiltinCommands, WithoutLsbReleaseReadOsReleaseAsDebiansLsbReleaseDoes) {
    auto nolsb = (dir_ / "nolsb").string();
    struct Sample {
        std::string file, id, release, codename;
    };
    std::vector<Sample> samples = {
        {osRelease("debian",
                   "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"
                   "NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n"
                   "VERSION_CODENAME=bookworm\nID=debian\n"),
         "Debian", "12", "bookworm"},
        {osRelease("ubuntu",
                   "NAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nVERSION_CODENAME=jammy\n"
                   "ID=ubuntu\nID_LIKE=debian\n"),
         "Ubuntu", "22.04", "jammy"},
        // NAME differing from ID only in case is taken as it is; no codename is "n/a".
        {osRelease("fedora", "NAME='Fedora Linux'\nID=fedora\nVERSION_ID=39\n"), "Fedora", "39",
         "n/a"},
        {osRelease("opensuse",
                   "NAME=\"openSUSE Leap\"\nID=\"opensuse-leap\"\n"
                   "VERSION_ID=\"15.5\"\n"),
         "Opensuse-leap", "15.5", "n/a"},
        {osRelease("alpine", "NAME=\"alpine\"\nID=alpine\nVERSION_ID=3.19.1\n"), "alpine", "3.19.1",
         "n/a"},
        {osRelease("empty", ""), "n/a", "n/a", "n/a"},
    };
    for (const auto& s : samples) {
        for (auto [command, expected] : {std::pair{"find-distributor-id", s.id},
                                         {"find-distribution-release", s.release},
                                         {"find-distribution-codename", s.codename}}) {
            auto ran = run(command, nolsb, s.file);
            EXPECT_EQ(ran.status, 0) << s.file << " " << command;
            EXPECT_EQ(ran.out, expected + "\n") << s.file << " " << command;
        }
    }
}

TEST_F(BuiltinCommands, IpAddressesWithoutIpFailsAndSaysWhy) {
    fs::create_directories(dir_ / "noip");
    std::vector<std::string> argv = {"env", "PATH=" + (dir_ / "noip").string(), "/bin/sh",
                                     (dir_ / "builtin" / "find-ip-addresses").string()};
    auto process = Process::spawn(argv, dir_ / "noip.out");
    auto status = process.wait(20s);
    ASSERT_TRUE(status);
    EXPECT_EQ(WEXITSTATUS(*status), 1);
    EXPECT_NE(readFile(dir_ / "noip.out").find("no ip command"), std::string::npos);
}

}  // namespace
}  // namespace corral::test

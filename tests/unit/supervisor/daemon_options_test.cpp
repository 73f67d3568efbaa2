// corrald's command line and corral.toml: the [qemu] keys, precedence and the error sentences.
#include "supervisor/daemon_options.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <stdexcept>

#include "tests/support/temp_dir.hpp"

namespace corral::supervisor {
namespace {

class DaemonOptionsTest : public ::testing::Test {
  protected:
    // Parses `corrald --config <file with text> extra...`.
    DaemonOptions parse(const std::string& text, std::vector<std::string> extra = {}) {
        auto file = dir_ / "corral.toml";
        std::ofstream(file) << text;
        std::vector<std::string> args = {"corrald", "--config", file.string()};
        args.insert(args.end(), extra.begin(), extra.end());
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        return parseDaemonOptions(static_cast<int>(argv.size()), argv.data());
    }

    // The message of the error parse() throws, or "" if it does not throw.
    std::string refusal(const std::string& text) {
        try {
            parse(text);
        } catch (const std::runtime_error& e) {
            return e.what();
        }
        return "";
    }

    test::TempDir dir_;
};

TEST_F(DaemonOptionsTest, DefaultsWithoutAQemuSection) {
    auto options = parse("");
    EXPECT_EQ(options.qemuBinary, "qemu-system-x86_64");
    EXPECT_EQ(options.qmpTimeout, std::chrono::seconds(30));
    EXPECT_EQ(options.runtimeDir, "/run/corral");
}

TEST_F(DaemonOptionsTest, QemuBinaryAndCommandTimeoutAreRead) {
    auto options = parse(
        "[qemu]\nbinary = \"/opt/qemu/bin/qemu-system-x86_64\"\ncommand_timeout = \"2500ms\"\n");
    EXPECT_EQ(options.qemuBinary, "/opt/qemu/bin/qemu-system-x86_64");
    EXPECT_EQ(options.qmpTimeout, std::chrono::milliseconds(2500));
}

TEST_F(DaemonOptionsTest, CommandLineWinsOverTheFile) {
    auto options = parse("[paths]\nruntime_dir = \"/file/run\"\ninstances_dir = \"/file/inst\"\n",
                         {"--runtime-dir", "/cli/run"});
    EXPECT_EQ(options.runtimeDir, "/cli/run");
    EXPECT_EQ(options.instancesDir, "/file/inst");
}

TEST_F(DaemonOptionsTest, BadValuesAreRefusedWithFileAndKey) {
    auto wrongType = refusal("[qemu]\nbinary = 3\n");
    EXPECT_NE(wrongType.find("corral.toml: qemu.binary must be a string"), std::string::npos)
        << wrongType;
    EXPECT_NE(refusal("[qemu]\nbinary = \"\"\n").find("qemu.binary is empty"), std::string::npos);
    for (const char* bad : {"\"soon\"", "\"0s\"", "\"-1s\"", "\"10\"", "\"2.5s\""}) {
        auto why = refusal(std::string("[qemu]\ncommand_timeout = ") + bad + "\n");
        EXPECT_NE(why.find("qemu.command_timeout"), std::string::npos) << bad << ": " << why;
    }
    auto typo = refusal("[qemu]\ncomand_timeout = \"5s\"\n");
    EXPECT_NE(typo.find("corral.toml:2:"), std::string::npos) << typo;
    EXPECT_NE(typo.find("unknown key 'comand_timeout' in [qemu] (known: binary, command_timeout)"),
              std::string::npos)
        << typo;
    auto section = refusal("[network]\nbridge = \"br0\"\n");
    EXPECT_NE(section.find("unknown section 'network'"), std::string::npos) << section;
    auto syntax = refusal("[qemu\n");
    EXPECT_NE(syntax.find("corral.toml:1:"), std::string::npos) << syntax;
}

TEST_F(DaemonOptionsTest, StorageDirsDefaultAndAreRead) {
    EXPECT_EQ(parse("").storageDirs, std::vector<std::filesystem::path>{"/var/lib/corral"});
    auto options = parse("[storage]\nallowed_dirs = [\"/srv/images\", \"/var/lib/corral\"]\n");
    EXPECT_EQ(options.storageDirs,
              (std::vector<std::filesystem::path>{"/srv/images", "/var/lib/corral"}));
    EXPECT_TRUE(parse("[storage]\nallowed_dirs = []\n").storageDirs.empty());
}

TEST_F(DaemonOptionsTest, BadStorageDirsAreRefusedWithFileLineAndColumn) {
    struct Case {
        const char* value;
        const char* where;
        const char* why;
    };
    for (auto c : {Case{"\"/srv\"", ":2:16: ", "must be a list of absolute directories"},
                   Case{"[\"images\"]", ":2:17: ", "'images' is not an absolute path"},
                   Case{"[\"/srv\", 3]", ":2:25: ", "every entry must be a string"},
                   Case{"[\"/srv/../etc\"]", ":2:17: ", "has a '..' component"},
                   Case{"[\"/\"]", ":2:17: ", "'/' would let Undefine delete any file"}}) {
        auto why = refusal(std::string("[storage]\nallowed_dirs = ") + c.value + "\n");
        EXPECT_NE(why.find(std::string("corral.toml") + c.where + "storage.allowed_dirs"),
                  std::string::npos)
            << c.value << ": " << why;
        EXPECT_NE(why.find(c.why), std::string::npos) << c.value << ": " << why;
    }
    auto typo = refusal("[storage]\nallowed_dir = []\n");
    EXPECT_NE(typo.find("unknown key 'allowed_dir' in [storage] (known: allowed_dirs)"),
              std::string::npos)
        << typo;
}

TEST_F(DaemonOptionsTest, MissingExplicitConfigIsAnError) {
    std::vector<std::string> args = {"corrald", "--config", (dir_ / "absent.toml").string()};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    EXPECT_THROW(parseDaemonOptions(3, argv.data()), std::runtime_error);
}

TEST_F(DaemonOptionsTest, MetricsAreOffByDefault) {
    EXPECT_FALSE(parse("").metricsListen);
}

TEST_F(DaemonOptionsTest, MetricsListenIsRead) {
    auto options = parse("[metrics]\nlisten = \"[::1]:9477\"\n");
    ASSERT_TRUE(options.metricsListen);
    EXPECT_EQ(options.metricsListen->host, "::1");
    EXPECT_EQ(options.metricsListen->port, 9477);
    auto unix = parse("[metrics]\nlisten = \"unix:/run/corral/metrics.sock\"\n");
    ASSERT_TRUE(unix.metricsListen);
    EXPECT_EQ(unix.metricsListen->path, "/run/corral/metrics.sock");
}

TEST_F(DaemonOptionsTest, MalformedMetricsListenNamesFileLineAndColumn) {
    auto file = (dir_ / "corral.toml").string();
    EXPECT_EQ(refusal("[qemu]\n\n[metrics]\nlisten = \"localhost:9477\"\n"),
              file +
                  ":4:10: metrics.listen 'localhost:9477': 'localhost' is not a numeric IP "
                  "address (IPv6 goes in brackets: \"[::1]:9477\")");
    EXPECT_NE(refusal("[metrics]\nlisten = \"127.0.0.1:99999\"\n").find(file + ":2:10: "),
              std::string::npos);
    EXPECT_NE(refusal("[metrics]\nlisen = \"127.0.0.1:9477\"\n").find("unknown key 'lisen'"),
              std::string::npos);
}

TEST_F(DaemonOptionsTest, FirmwareImagesDefaultToDebiansOvmfAndMustBeAbsolute) {
    auto defaults = parse("");
    EXPECT_EQ(defaults.firmware.code, "/usr/share/OVMF/OVMF_CODE_4M.fd");
    EXPECT_EQ(defaults.firmware.secureVars, "/usr/share/OVMF/OVMF_VARS_4M.ms.fd");
    auto set = parse("[firmware]\ncode = \"/fw/CODE.fd\"\nsecure_vars = \"/fw/MS.fd\"\n");
    EXPECT_EQ(set.firmware.code, "/fw/CODE.fd");
    EXPECT_EQ(set.firmware.vars, "/usr/share/OVMF/OVMF_VARS_4M.fd");
    EXPECT_EQ(set.firmware.secureVars, "/fw/MS.fd");
    EXPECT_NE(refusal("[firmware]\nvars = \"OVMF_VARS.fd\"\n").find("is not an absolute path"),
              std::string::npos);
    EXPECT_NE(refusal("[firmware]\nkode = \"/x\"\n").find("unknown key 'kode' in [firmware]"),
              std::string::npos);
}

TEST_F(DaemonOptionsTest, HostShutdownTimeoutDefaultsTo300sAndIsRead) {
    EXPECT_EQ(parse("").host.shutdownTimeout, std::chrono::seconds(300));
    auto options = parse("[host]\non_shutdown = \"shutdown\"\nshutdown_timeout = \"90s\"\n");
    EXPECT_EQ(options.host.shutdownTimeout, std::chrono::seconds(90));
}

TEST_F(DaemonOptionsTest, HostOnShutdownIsShutdownOrSuspend) {
    EXPECT_FALSE(parse("").host.suspend);
    EXPECT_FALSE(parse("[host]\non_shutdown = \"shutdown\"\n").host.suspend);
    EXPECT_TRUE(parse("[host]\non_shutdown = \"suspend\"\n").host.suspend);
    auto file = (dir_ / "corral.toml").string();
    EXPECT_EQ(refusal("[host]\non_shutdown = \"halt\"\n"),
              file + ":2:15: host.on_shutdown 'halt': must be \"shutdown\" or \"suspend\"");
}

TEST_F(DaemonOptionsTest, HostShutdownTimeoutOutOfRangeNamesTheLine) {
    auto file = (dir_ / "corral.toml").string();
    EXPECT_EQ(refusal("[host]\nshutdown_timeout = \"2h\"\n"),
              file +
                  ":2:20: host.shutdown_timeout '2h' is not a duration from 1s to 1h (e.g. "
                  "\"300s\")");
    EXPECT_NE(
        refusal("[host]\nshutdown_timeout = 5\n").find("host.shutdown_timeout must be a string"),
        std::string::npos);
    EXPECT_NE(refusal("[host]\non_shutdwn = \"shutdown\"\n").find("unknown key 'on_shutdwn'"),
              std::string::npos);
}

TEST_F(DaemonOptionsTest, LogDefaults) {
    auto options = parse("");
    EXPECT_EQ(options.logDir, "/var/log/corral");
    EXPECT_EQ(options.logBound.maxBytes, 1u << 20);
    EXPECT_EQ(options.logBound.keep, 5u);
}

TEST_F(DaemonOptionsTest, LogDirAndBoundFromTheFileWithTheOptionWinning) {
    auto options = parse("[paths]\nlog_dir = \"/srv/log\"\n[logs]\nmax_size = \"64K\"\nkeep = 2\n");
    EXPECT_EQ(options.logDir, "/srv/log");
    EXPECT_EQ(options.logBound.maxBytes, 64u << 10);
    EXPECT_EQ(options.logBound.keep, 2u);
    EXPECT_EQ(parse("[paths]\nlog_dir = \"/srv/log\"\n", {"--log-dir", "/tmp/l"}).logDir, "/tmp/l");
    EXPECT_THROW(parse("", {"--log-dir", "rel"}), std::runtime_error);
}

TEST_F(DaemonOptionsTest, BadLogSettingsAreRefusedWithTheirPlace) {
    EXPECT_NE(
        refusal("[logs]\nmax_size = \"1K\"\n").find("corral.toml:2:12: logs.max_size must be"),
        std::string::npos);
    EXPECT_NE(refusal("[logs]\nmax_size = \"2G\"\n").find("from 4K to 1G"), std::string::npos);
    EXPECT_NE(refusal("[logs]\nkeep = 0\n").find("corral.toml:2:8: logs.keep must be"),
              std::string::npos);
    EXPECT_NE(refusal("[logs]\nkeep = \"3\"\n").find("logs.keep must be"), std::string::npos);
    EXPECT_NE(refusal("[logs]\nsize = 3\n").find("unknown key 'size' in [logs]"),
              std::string::npos);
    EXPECT_NE(
        refusal("[paths]\nlog_dir = \"log\"\n").find("paths.log_dir 'log' is not an absolute"),
        std::string::npos);
}

}  // namespace
}  // namespace corral::supervisor

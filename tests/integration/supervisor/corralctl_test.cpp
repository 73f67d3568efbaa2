// corralctl against a real corrald: tables, --json, exit codes and one-line errors.
#include <gtest/gtest.h>

#include "tests/integration/supervisor/corrald_fixture.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;

class Corralctl : public CorraldFixture {
  protected:
    CommandResult ctl(std::vector<std::string> args) {
        std::vector<std::string> argv = {std::string(CORRAL_BINARY_DIR) + "/supervisor/corralctl",
                                         "--address", address_};
        argv.insert(argv.end(), args.begin(), args.end());
        return runCommand(argv, 30s, dir_.path());
    }
    // corralctl pointed at an address where no bus listens: what it refuses, it refuses itself.
    CommandResult ctlAlone(std::vector<std::string> args) {
        std::vector<std::string> argv = {std::string(CORRAL_BINARY_DIR) + "/supervisor/corralctl",
                                         "--address", "unix:path=" + (dir_ / "nobus").string()};
        argv.insert(argv.end(), args.begin(), args.end());
        return runCommand(argv, 30s, dir_.path());
    }
};

TEST_F(Corralctl, ListAsTableAndJson) {
    writeGuest("web1");
    writeFile("broken.toml", "[machine]\ncpus = 0\n");
    startCorrald();
    auto table = ctl({"list"});
    EXPECT_EQ(table.status, 0);
    EXPECT_EQ(table.output,
              "NAME    STATE          PID\n"
              "broken  invalid        -\n"
              "web1    stopped        -\n");
    auto json = ctl({"--json", "list"});
    EXPECT_EQ(json.output,
              "[{\"name\":\"broken\",\"state\":\"invalid\",\"pid\":0,\"path\":\"/org/corral1/"
              "instance/broken\"},{\"name\":\"web1\",\"state\":\"stopped\",\"pid\":0,\"path\":\"/"
              "org/corral1/instance/web1\"}]\n");
}

TEST_F(Corralctl, ExitCodesScriptsCanRelyOn) {
    writeGuest("web1");
    writeFile("broken.toml", "[machine]\ncpus = 0\n");
    startCorrald();
    EXPECT_EQ(ctl({"status", "nope"}).status, 3);
    auto stopped = ctl({"shutdown", "web1"});
    EXPECT_EQ(stopped.status, 5);
    EXPECT_EQ(stopped.output, "corralctl: web1 is not running (state stopped).\n");
    EXPECT_EQ(ctl({"start", "broken"}).status, 1);
    EXPECT_EQ(ctl({"frobnicate"}).status, 2);
    EXPECT_EQ(ctl({"exec", "web1"}).status, 2);
    EXPECT_EQ(ctl({"status", "web1"}).status, 0);
    EXPECT_EQ(ctl({"reload"}).status, 0);
    auto unreachable = ctlAlone({"list"});
    EXPECT_EQ(unreachable.status, 6) << unreachable.output;
}

TEST_F(Corralctl, AttachDiskResolvesDotDotBeforeCorraldSeesIt) {
    // corrald refuses ".." in disk paths; corralctl sends the path the kernel would open, so the
    // call gets past argument checks to the instance, which is stopped.
    writeGuest("web1");
    startCorrald();
    auto result =
        ctl({"attach-disk", "web1", "d1", (dir_.path() / "instances/../d1.img").string()});
    EXPECT_EQ(result.status, 5) << result.output;
    EXPECT_EQ(result.output.find("component"), std::string::npos) << result.output;
}

TEST_F(Corralctl, ValidateNeedsNoDaemon) {
    writeGuest("web1");
    writeFile("broken.toml", "[machine]\ncpus = 0\n");
    auto ok = ctl({"validate", (dir_ / "instances" / "web1.toml").string()});
    EXPECT_EQ(ok.status, 0) << ok.output;
    auto bad = ctl({"validate", (dir_ / "instances" / "broken.toml").string()});
    EXPECT_EQ(bad.status, 1);
    EXPECT_NE(bad.output.find("broken.toml:2:"), std::string::npos) << bad.output;
}

TEST_F(Corralctl, HostileNamesAndTimeoutsAreRefusedBeforeTheBus) {
    // No daemon on this address: a refusal must come from corralctl itself (exit 2, not 6).
    for (const std::string& name :
         std::vector<std::string>{"../etc", "a/b", "-rf", std::string(4096, 'x'),
                                  std::string("vm-\xc3\xa9"), std::string("web1\n")}) {
        for (const char* command : {"status", "start", "run"}) {
            auto result = ctlAlone({command, name});
            EXPECT_EQ(result.status, 2) << command << " '" << name << "': " << result.output;
            EXPECT_NE(result.output.find("instance name"), std::string::npos) << result.output;
        }
    }
    for (const char* timeout : {"-5", "nan", "inf", "1e30", "soon"}) {
        auto result = ctlAlone({"shutdown", "web1", "--timeout", timeout});
        EXPECT_EQ(result.status, 2) << timeout << ": " << result.output;
        EXPECT_NE(result.output.find("--timeout wants seconds"), std::string::npos)
            << result.output;
    }
}

TEST_F(Corralctl, RulesOfTheVerbTableAreKeptBeforeTheBus) {
    // No daemon on this address: every refusal comes from the verb table (exit 2, not 6).
    auto mac = ctlAlone({"start", "vm", "--mac", "x"});
    EXPECT_EQ(mac.status, 2) << mac.output;
    EXPECT_EQ(mac.output.rfind("corralctl: option --mac does not apply to start", 0), 0u)
        << mac.output;
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"frobnicate"}, {"start"}, {"reload", "extra"}, {"kill", "web1", "--", "x"}}) {
        auto result = ctlAlone(args);
        EXPECT_EQ(result.status, 2) << args.front() << ": " << result.output;
        EXPECT_NE(result.output.find("usage: corralctl"), std::string::npos) << result.output;
    }
    auto help = ctlAlone({"--help"});
    EXPECT_EQ(help.status, 0);
    EXPECT_NE(help.output.find("\n  attach-disk NAME ID PATH [--readonly] [--format raw|qcow2]\n"),
              std::string::npos)
        << help.output;
}

}  // namespace
}  // namespace corral::test

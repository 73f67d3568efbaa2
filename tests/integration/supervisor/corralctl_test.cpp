// corralctl against a real corrald: tables, --json, exit codes and one-line errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <sstream>

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
        EXPECT_NE(result.output.find("\nTry 'corralctl --help'.\n"), std::string::npos)
            << result.output;
    }
    auto help = ctlAlone({"--help"});
    EXPECT_EQ(help.status, 0);
    EXPECT_NE(help.output.find("\n  attach-disk NAME ID PATH [--readonly] [--format raw|qcow2]\n"),
              std::string::npos)
        << help.output;
}

// A bad command line is one line and a hint, never the whole usage text; an error from corrald
// is corrald's sentence alone, whatever its exit code.
TEST_F(Corralctl, ErrorsAreOneLineAndOnlyUsageErrorsGetAHint) {
    for (const auto& [args, line] : std::vector<std::pair<std::vector<std::string>, std::string>>{
             {{"frobnicate"}, "corralctl: unknown command 'frobnicate'\n"},
             {{}, "corralctl: no command given\n"},
             {{"start"}, "corralctl: usage: corralctl start NAME [--discard-saved]\n"}}) {
        auto result = ctlAlone(args);
        EXPECT_EQ(result.status, 2) << result.output;
        EXPECT_EQ(result.output, line + "Try 'corralctl --help'.\n");
    }
    writeGuest("web1");
    startCorrald();
    // InvalidArgument from corrald: exit 2 like a usage error, but no hint and no usage text.
    auto refused = ctl({"attach-disk", "web1", "bad id!", (dir_ / "d1.img").string()});
    EXPECT_EQ(refused.status, 2) << refused.output;
    EXPECT_EQ(refused.output.rfind("corralctl: ", 0), 0u) << refused.output;
    EXPECT_EQ(std::count(refused.output.begin(), refused.output.end(), '\n'), 1) << refused.output;
    EXPECT_EQ(refused.output.find("usage:"), std::string::npos) << refused.output;
    EXPECT_EQ(refused.output.find("Try '"), std::string::npos) << refused.output;
    auto missing = ctl({"status", "nope"});
    EXPECT_EQ(missing.status, 3);
    EXPECT_EQ(std::count(missing.output.begin(), missing.output.end(), '\n'), 1) << missing.output;
}

TEST_F(Corralctl, EmptyOrUnresolvableDiskPathsAreNamed) {
    writeGuest("web1");
    startCorrald();
    auto empty = ctl({"attach-disk", "web1", "d1", ""});
    EXPECT_EQ(empty.status, 2) << empty.output;
    EXPECT_EQ(empty.output, "corralctl: the disk path is empty\n");
    auto option = ctl({"attach", "web1", "disk", "d1", "--option", "path="});
    EXPECT_EQ(option.status, 2) << option.output;
    EXPECT_EQ(option.output, "corralctl: the disk path (--option path=) is empty\n");
    // A component longer than NAME_MAX cannot be resolved: said as such, not as an exception.
    auto tooLong = (dir_ / std::string(300, 'x') / "d1.img").string();
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"attach-disk", "web1", "d1", tooLong},
             {"attach", "web1", "disk", "d1", "--option", "path=" + tooLong}}) {
        auto result = ctl(args);
        EXPECT_EQ(result.status, 2) << result.output;
        EXPECT_EQ(result.output.rfind("corralctl: cannot resolve the disk path", 0), 0u)
            << result.output;
        EXPECT_NE(result.output.find("File name too long"), std::string::npos) << result.output;
        EXPECT_EQ(result.output.find("filesystem error"), std::string::npos) << result.output;
    }
}

TEST_F(Corralctl, ValidateJsonIsJson) {
    writeGuest("web1");
    writeFile("broken.toml", "[machine]\ncpus = 0\n");
    auto good = (dir_ / "instances" / "web1.toml").string();
    auto bad = (dir_ / "instances" / "broken.toml").string();
    auto ok = ctl({"--json", "validate", good});
    EXPECT_EQ(ok.status, 0) << ok.output;
    EXPECT_EQ(ok.output, "[{\"file\":\"" + good +
                             "\",\"ok\":true,\"instance\":\"web1\",\"diagnostics\":[]}]\n");
    auto both = ctl({"--json", "validate", good, bad});
    EXPECT_EQ(both.status, 1) << both.output;
    EXPECT_EQ(both.output.rfind("[{\"file\":", 0), 0u) << both.output;
    EXPECT_NE(
        both.output.find("},{\"file\":\"" + bad + "\",\"ok\":false,\"diagnostics\":[{\"file\":\"" +
                         bad + "\",\"line\":"),
        std::string::npos)
        << both.output;
    EXPECT_NE(both.output.find(",\"line\":2,\"column\":8,\"message\":\"cpus: expected an integer"),
              std::string::npos)
        << both.output;
    const std::string end = "\"}]}]\n";  // the last message, diagnostics, object, array
    EXPECT_EQ(both.output.compare(both.output.size() - end.size(), end.size(), end), 0)
        << both.output;
}

// etc/bash-completion/corralctl loaded into a real bash and called as bash calls it: verbs and
// options from corralctl, instance names from corrald over the bus the command line names.
TEST_F(Corralctl, BashCompletionOffersVerbsOptionsAndInstanceNames) {
    writeGuest("web1");
    writeFile("broken.toml", "[machine]\ncpus = 0\n");
    startCorrald();
    const std::string corralctl = std::string(CORRAL_BINARY_DIR) + "/supervisor/corralctl";
    // The words after "corralctl --address ADDR"; the last one is the word being completed.
    auto complete = [&](const std::vector<std::string>& words) {
        std::string array = "'" + corralctl + "' --address '" + address_ + "'";
        for (const auto& w : words) array += " '" + w + "'";
        std::string script = std::string("source '") + CORRAL_SOURCE_DIR +
                             "/etc/bash-completion/corralctl' || exit 9\n"
                             "complete -p corralctl || exit 8\n"
                             "COMP_WORDS=(" +
                             array + ")\nCOMP_CWORD=" + std::to_string(words.size() + 2) +
                             "\n_corralctl\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n";
        auto result = runCommand({"bash", "--norc", "--noprofile", "-c", script}, 30s, dir_.path());
        EXPECT_EQ(result.status, 0) << result.output;
        const std::string registered = "complete -F _corralctl corralctl\n";
        EXPECT_EQ(result.output.rfind(registered, 0), 0u) << result.output;
        auto out = result.output.substr(std::min(registered.size(), result.output.size()));
        return out == "\n" ? std::string() : out;  // printf prints one empty line for no words
    };
    EXPECT_EQ(complete({"st"}), "status\nstart\n");
    // Every verb, and only those --help lists ("  VERB ..." lines).
    std::set<std::string> fromHelp, completed;
    std::istringstream help(ctl({"--help"}).output);
    for (std::string line; std::getline(help, line);)
        if (line.size() > 2 && line.rfind("  ", 0) == 0 && line[2] != ' ')
            fromHelp.insert(line.substr(2, line.find(' ', 2) - 2));
    std::istringstream verbs(complete({""}));
    for (std::string line; std::getline(verbs, line);) completed.insert(line);
    EXPECT_EQ(completed, fromHelp);
    EXPECT_GE(completed.size(), 20u);
    auto options = complete({"attach-disk", "web1", "d1", "x.img", "--"});
    for (const char* option : {"--readonly\n", "--format\n", "--json\n", "--address\n"})
        EXPECT_NE(options.find(option), std::string::npos) << option << " in " << options;
    EXPECT_EQ(options.find("--mac"), std::string::npos) << options;
    EXPECT_EQ(complete({"attach-disk", "web1", "d1", "x.img", "--format", ""}), "raw\nqcow2\n");
    EXPECT_EQ(complete({"shutdown", "web1", "--timeout", ""}), "");
    EXPECT_EQ(complete({"status", ""}), "broken\nweb1\n");
    EXPECT_EQ(complete({"--json", "shutdown", "--timeout", "5", "w"}), "web1\n");
    EXPECT_EQ(complete({"status", "web1", ""}), "");
}

}  // namespace
}  // namespace corral::test

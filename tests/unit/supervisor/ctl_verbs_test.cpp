// corralctl's verb table and the parser and usage text made from it, without a bus: every rule
// of a verb (options, argument counts, "-- ARGV", the instance name) refuses before any call.
#include "supervisor/ctl_verbs.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "supervisor/ctl_commands.hpp"
#include "supervisor/ctl_output.hpp"

namespace corral::supervisor::ctl {
namespace {

Args parse(std::vector<std::string> words) {
    return parseCommandLine(corralctlVerbs(), words);
}

// The CtlError that parsing `words` throws; fails the test when it does not throw.
CtlError refusal(std::vector<std::string> words) {
    try {
        parse(words);
    } catch (const CtlError& e) {
        return e;
    }
    ADD_FAILURE() << "accepted: " << ::testing::PrintToString(words);
    return CtlError(kOk, "");
}

TEST(CtlVerbs, ParsesAVerbWithItsArgumentsAndOptions) {
    auto a = parse({"--json", "attach-nic", "web1", "eth1", "--mode", "bridge", "--bridge", "br0"});
    ASSERT_NE(a.verb, nullptr);
    EXPECT_EQ(a.verb->name, "attach-nic");
    EXPECT_EQ(a.args, (std::vector<std::string>{"web1", "eth1"}));
    EXPECT_TRUE(a.json);
    ASSERT_NE(a.option(kMode), nullptr);
    EXPECT_EQ(*a.option(kMode), "bridge");
    EXPECT_EQ(*a.option(kBridge), "br0");
    EXPECT_EQ(a.option(kMac), nullptr);
}

TEST(CtlVerbs, GlobalOptionsGoWithEveryVerbAndAnywhere) {
    auto a = parse({"list", "--address", "unix:path=/x", "--json"});
    EXPECT_EQ(a.bus, Client::Bus::Address);
    EXPECT_EQ(a.address, "unix:path=/x");
    EXPECT_TRUE(a.json);
    EXPECT_EQ(parse({"--session", "status", "web1"}).bus, Client::Bus::Session);
}

TEST(CtlVerbs, HostGoesToThatHostsSystemBus) {
    for (const char* flag : {"-H", "--host"}) {
        auto a = parse({"status", flag, "root@example.org", "web1"});
        EXPECT_EQ(a.bus, Client::Bus::Remote) << flag;
        EXPECT_EQ(a.address, "root@example.org") << flag;
    }
    EXPECT_EQ(parse({"--system", "-H", "db2:2222", "list"}).bus, Client::Bus::Remote);
}

TEST(CtlVerbs, HostExcludesAddressAndSession) {
    auto withAddress = refusal({"-H", "db2", "--address", "unix:path=/x", "list"});
    EXPECT_EQ(withAddress.exit, kUsage);
    EXPECT_STREQ(withAddress.what(),
                 "-H/--host reaches HOST's system bus over ssh and cannot go with --address");
    EXPECT_STREQ(refusal({"--session", "list", "--host", "db2"}).what(),
                 "-H/--host reaches HOST's system bus over ssh and cannot go with --session");
    EXPECT_STREQ(refusal({"list", "-H", "-oProxyCommand=x"}).what(),
                 "-H/--host wants [user@]host[:port], got '-oProxyCommand=x'");
    EXPECT_STREQ(refusal({"list", "-H", ""}).what(), "-H/--host wants [user@]host[:port], got ''");
    EXPECT_STREQ(refusal({"list", "-H"}).what(), "-H needs a value");
}

TEST(CtlVerbs, UnknownVerbIsAUsageError) {
    auto e = refusal({"frobnicate", "web1"});
    EXPECT_EQ(e.exit, kUsage);
    EXPECT_TRUE(e.hint);
    EXPECT_STREQ(e.what(), "unknown command 'frobnicate'");
}

TEST(CtlVerbs, NoVerbIsNamedWithAHint) {
    auto e = refusal({"--json"});
    EXPECT_EQ(e.exit, kUsage);
    EXPECT_TRUE(e.hint);
    EXPECT_STREQ(e.what(), "no command given");
}

TEST(CtlVerbs, UnknownOptionIsNamed) {
    EXPECT_STREQ(refusal({"start", "web1", "--frobnicate"}).what(), "unknown option --frobnicate");
}

TEST(CtlVerbs, OptionOfAnotherVerbNamesTheOptionAndTheVerb) {
    auto e = refusal({"kill", "vm", "--mac", "x"});
    EXPECT_EQ(e.exit, kUsage);
    EXPECT_STREQ(e.what(), "option --mac does not apply to kill (kill takes no options)");
    EXPECT_STREQ(refusal({"start", "vm", "--mac", "x"}).what(),
                 "option --mac does not apply to start (start takes --discard-saved)");
    EXPECT_STREQ(refusal({"attach-disk", "vm", "d", "/x", "--mode", "tap"}).what(),
                 "option --mode does not apply to attach-disk (attach-disk takes --readonly and "
                 "--format)");
    EXPECT_STREQ(refusal({"list", "--timeout", "5"}).what(),
                 "option --timeout does not apply to list (list takes no options)");
}

TEST(CtlVerbs, WrongArgumentCountsShowTheVerbsUsage) {
    EXPECT_STREQ(refusal({"start"}).what(), "usage: corralctl start NAME [--discard-saved]");
    EXPECT_STREQ(refusal({"start", "a", "b"}).what(),
                 "usage: corralctl start NAME [--discard-saved]");
    EXPECT_STREQ(refusal({"save"}).what(), "usage: corralctl save NAME");
    EXPECT_STREQ(refusal({"attach-disk", "web1", "d1"}).what(),
                 "usage: corralctl attach-disk NAME ID PATH [--readonly] [--format raw|qcow2]");
    EXPECT_STREQ(refusal({"reload", "extra"}).what(), "usage: corralctl reload");
    EXPECT_STREQ(refusal({"validate"}).what(), "usage: corralctl validate FILE...");
    EXPECT_EQ(parse({"validate", "a.toml", "b.toml", "c.toml"}).args.size(), 3u);
}

TEST(CtlVerbs, ArgvAfterDoubleDashOnlyForExec) {
    auto a = parse({"exec", "web1", "--timeout", "5", "--", "ls", "--all"});
    EXPECT_EQ(a.argv, (std::vector<std::string>{"ls", "--all"}));
    EXPECT_EQ(*a.option(kTimeout), "5");
    EXPECT_STREQ(refusal({"exec", "web1"}).what(),
                 "usage: corralctl exec NAME [--timeout S] -- ARGV...");
    EXPECT_STREQ(refusal({"start", "web1", "--", "x"}).what(), "start takes no arguments after --");
}

TEST(CtlVerbs, InstanceNamesAreCheckedWithoutTheUsage) {
    auto e = refusal({"status", "../etc"});
    EXPECT_EQ(e.exit, kUsage);
    EXPECT_FALSE(e.hint);
    EXPECT_NE(std::string(e.what()).find("instance name"), std::string::npos) << e.what();
    // validate takes files, not names.
    EXPECT_NO_THROW(parse({"validate", "../etc/web1.toml"}));
}

TEST(CtlVerbs, OptionWithoutItsValueIsRefused) {
    EXPECT_STREQ(refusal({"shutdown", "web1", "--timeout"}).what(), "--timeout needs a value");
    EXPECT_STREQ(refusal({"list", "--address"}).what(), "--address needs a value");
}

TEST(CtlVerbs, HelpStopsBeforeAnyRule) {
    auto a = parse({"start", "--mac", "x", "--help"});
    EXPECT_TRUE(a.help);
}

// The usage is made from the table: every verb has an entry with its synopsis and help, and
// every option a verb takes appears in it (tests/docs checks the man page against this text).
TEST(CtlVerbs, UsageTextHasAnEntryPerVerbAndEveryOption) {
    auto verbs = corralctlVerbs();
    auto usage = usageText(verbs);
    std::set<std::string_view> names;
    for (const auto& verb : verbs) {
        EXPECT_TRUE(names.insert(verb.name).second) << verb.name << " is in the table twice";
        EXPECT_FALSE(verb.help.empty()) << verb.name;
        auto synopsis = verbUsage(verb).substr(std::string("usage: corralctl ").size());
        EXPECT_NE(usage.find("\n  " + synopsis), std::string::npos) << synopsis;
        EXPECT_NE(usage.find(std::string(verb.help) + "\n"), std::string::npos) << verb.help;
    }
    for (const auto& option : verbOptions())
        EXPECT_NE(usage.find(std::string(option.name)), std::string::npos) << option.name;
    EXPECT_EQ(
        usage.rfind("usage: corralctl [-H [USER@]HOST | --address ADDR | --system | --session] "
                    "[--json] COMMAND ...\n",
                    0),
        0u);
}

TEST(CtlVerbs, DeviceOptionsRepeatInOrderAndOnlyForAttach) {
    auto a = parseCommandLine(corralctlVerbs(), {"attach", "vm1", "disk", "d1", "--option",
                                                 "path=/x.img", "--option", "readonly=true"});
    EXPECT_EQ(a.deviceOptions, (std::vector<std::string>{"path=/x.img", "readonly=true"}));
    EXPECT_THROW(parseCommandLine(corralctlVerbs(), {"detach", "vm1", "d1", "--option", "a=b"}),
                 CtlError);
}

TEST(CtlVerbs, EveryExistingVerbIsInTheTable) {
    std::set<std::string_view> names;
    for (const auto& verb : corralctlVerbs()) names.insert(verb.name);
    EXPECT_EQ(names, (std::set<std::string_view>{
                         "list",     "status", "start",    "kill",        "reboot",     "reset",
                         "pause",    "resume", "shutdown", "attach-disk", "attach-nic", "attach",
                         "detach",   "exec",   "commands", "console",     "run",        "monitor",
                         "validate", "reload", "define",   "show",        "edit",       "undefine",
                         "top",      "cdrom",  "vnc",      "screenshot",  "migrate",    "resize",
                         "limits",   "save",   "snapshot", "backup"}));
}

TEST(CtlVerbs, CdromTakesAPathOrEject) {
    auto put = parseCommandLine(corralctlVerbs(), {"cdrom", "vm1", "cd0", "/isos/a.iso"});
    EXPECT_EQ(put.args, (std::vector<std::string>{"vm1", "cd0", "/isos/a.iso"}));
    EXPECT_FALSE(put.has(kEject));
    auto eject = parseCommandLine(corralctlVerbs(), {"cdrom", "vm1", "cd0", "--eject"});
    EXPECT_TRUE(eject.has(kEject));
    EXPECT_THROW(parseCommandLine(corralctlVerbs(), {"cdrom", "vm1"}), CtlError);
    EXPECT_THROW(parseCommandLine(corralctlVerbs(), {"detach", "vm1", "d1", "--eject"}), CtlError);
}

TEST(CtlVerbs, ResizeTakesNameDiskAndSize) {
    auto a = parseCommandLine(corralctlVerbs(), {"resize", "vm1", "data", "10G"});
    EXPECT_EQ(a.verb->name, "resize");
    EXPECT_EQ(a.args, (std::vector<std::string>{"vm1", "data", "10G"}));
    EXPECT_THROW(parseCommandLine(corralctlVerbs(), {"resize", "vm1", "data"}), CtlError);
    EXPECT_THROW(parseCommandLine(corralctlVerbs(), {"resize", "vm1", "data", "1G", "--eject"}),
                 CtlError);
}

TEST(CtlVerbs, SnapshotTakesAnActionNameAndSnapAndForceOnly) {
    auto a = parseCommandLine(corralctlVerbs(), {"snapshot", "revert", "vm1", "s1", "--force"});
    EXPECT_EQ(a.verb->name, "snapshot");
    EXPECT_EQ(a.args, (std::vector<std::string>{"revert", "vm1", "s1"}));
    EXPECT_TRUE(a.has(kForce));
    EXPECT_THROW(parseCommandLine(corralctlVerbs(), {"snapshot", "list"}), CtlError);
    EXPECT_THROW(parseCommandLine(corralctlVerbs(), {"snapshot", "create", "vm1", "s1", "x"}),
                 CtlError);
    EXPECT_THROW(parseCommandLine(corralctlVerbs(), {"snapshot", "list", "vm1", "--eject"}),
                 CtlError);
}

TEST(CtlVerbs, MigrateTakesItsOptionsOnly) {
    auto verbs = corralctlVerbs();
    auto a = parseCommandLine(verbs, {"migrate", "vm1", "host2", "--bandwidth", "1000",
                                      "--downtime", "50", "--timeout", "60"});
    EXPECT_EQ(a.verb->name, "migrate");
    EXPECT_EQ(a.args, (std::vector<std::string>{"vm1", "host2"}));
    EXPECT_EQ(*a.option(kBandwidth), "1000");
    EXPECT_EQ(*a.option(kDowntime), "50");
    auto cancel = parseCommandLine(verbs, {"migrate", "--cancel", "vm1"});
    EXPECT_TRUE(cancel.has(kCancel));
    try {
        parseCommandLine(verbs, {"migrate", "vm1", "host2", "--delay", "1"});
        ADD_FAILURE() << "--delay accepted";
    } catch (const CtlError& e) {
        EXPECT_NE(std::string(e.what()).find("option --delay does not apply to migrate"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_NE(verbUsage(*a.verb).find("migrate NAME [DEST] [--timeout S] [--bandwidth BYTES/S] "
                                      "[--downtime MS] [--cancel]"),
              std::string::npos)
        << verbUsage(*a.verb);
}

// The completion's lists come from the table; every option it offers is one the parser takes,
// with a value exactly when it shows one.
TEST(CtlVerbs, CompletionListsAreTheTablesAndTheParsersOwn) {
    auto verbs = corralctlVerbs();
    std::string names;
    for (const auto& verb : verbs) names += std::string(verb.name) + "\n";
    EXPECT_EQ(completionText(verbs, {"verbs"}), names);
    std::istringstream options(completionText(verbs, {"options"}));
    unsigned count = 0;
    for (std::string line; std::getline(options, line); ++count) {
        auto space = line.find(' ');
        std::vector<std::string> words = {line.substr(0, space)};
        if (space != std::string::npos) words.push_back(line.substr(0, 2) == "-H" ? "h" : "1");
        words.push_back("list");
        try {
            parse(words);
        } catch (const CtlError& e) {
            // Only the verb's own rule may refuse it (list takes no options), never the parser.
            EXPECT_NE(std::string(e.what()).find("does not apply to list"), std::string::npos)
                << line << ": " << e.what();
        }
    }
    EXPECT_EQ(count, 7 + verbOptions().size());
    EXPECT_EQ(completionText(verbs, {"options", "attach-disk"}),
              "-H [USER@]HOST\n--host [USER@]HOST\n--address ADDR\n--system\n--session\n"
              "--json\n--help\n--readonly\n--format raw|qcow2\n");
    EXPECT_EQ(completionText(verbs, {"arguments", "attach-disk"}), "NAME\nID\nPATH\n");
    EXPECT_EQ(completionText(verbs, {"arguments", "list"}), "");
    EXPECT_THROW(completionText(verbs, {"arguments", "frobnicate"}), CtlError);
    EXPECT_THROW(completionText(verbs, {}), CtlError);
}

// StartedAt for people: local time with its offset in ISO 8601, and the uptime.
TEST(CtlOutput, StartedAtIsLocalTimeWithOffsetAndUptime) {
    const char* old = std::getenv("TZ");
    std::string saved = old ? old : "";
    ::setenv("TZ", "<+0530>-5:30", 1);
    ::tzset();
    // 2026-12-01T12:00:00Z
    const std::uint64_t started = 1'796'126'400ull * 1'000'000;
    EXPECT_EQ(startedAtText(started, started + 3'723'000'000ull),
              "2026-12-01T17:30:00+05:30 (up 1h 2m 3s)");
    EXPECT_EQ(startedAtText(started, started + 2 * 86'400'000'000ull + 5'000'000),
              "2026-12-01T17:30:00+05:30 (up 2d 0h 0m 5s)");
    ::setenv("TZ", "UTC0", 1);
    ::tzset();
    EXPECT_EQ(startedAtText(started, started), "2026-12-01T12:00:00+00:00 (up 0s)");
    EXPECT_EQ(startedAtText(0, started), "-");
    if (old)
        ::setenv("TZ", saved.c_str(), 1);
    else
        ::unsetenv("TZ");
    ::tzset();
}

}  // namespace
}  // namespace corral::supervisor::ctl

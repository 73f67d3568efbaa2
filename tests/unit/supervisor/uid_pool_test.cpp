// [security] uid_range in corral.toml, and the migration TLS credentials a confined qemu gets on
// its command line.
#include "supervisor/uid_pool.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <stdexcept>

#include "supervisor/daemon_options.hpp"
#include "supervisor/migration_tls.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::supervisor {
namespace {

std::string refusal(const std::function<void()>& run) {
    try {
        run();
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "";
}

DaemonOptions parseFile(const std::filesystem::path& file) {
    std::vector<std::string> args = {"corrald", "--config", file.string()};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    return parseDaemonOptions(static_cast<int>(argv.size()), argv.data());
}

TEST(UidPoolConfig, DefaultRangeAndAConfiguredOne) {
    test::TempDir dir;
    std::ofstream(dir / "corral.toml") << "";
    EXPECT_EQ(parseFile(dir / "corral.toml").uidRange.first, 70000u);
    std::ofstream(dir / "corral.toml") << "[security]\nuid_range = \"200000-200099\"\n";
    auto options = parseFile(dir / "corral.toml");
    EXPECT_EQ(options.uidRange.first, 200000u);
    EXPECT_EQ(options.uidRange.last, 200099u);
}

TEST(UidPoolConfig, MalformedRangeNamesFileLineAndColumn) {
    test::TempDir dir;
    auto file = dir / "corral.toml";
    std::ofstream(file) << "[security]\nuid_range = \"9-1\"\n";
    auto why = refusal([&] { parseFile(file); });
    EXPECT_NE(why.find(file.string() + ":2:13: security.uid_range '9-1' is not a range"),
              std::string::npos)
        << why;
    std::ofstream(file) << "[security]\nuid_ranges = \"1-2\"\n";
    why = refusal([&] { parseFile(file); });
    EXPECT_NE(why.find("unknown key 'uid_ranges' in [security]"), std::string::npos) << why;
}

TEST(UidPoolConfig, RangeOverlappingAnAccountIsRefused) {
    test::TempDir dir;
    std::ofstream(dir / "passwd") << "vmuser:x:70005:70005::/:/bin/false\n";
    std::ofstream(dir / "group") << "";
    auto why = refusal([&] {
        uidRangeSetting("corral.toml:7:13: ", std::string("70000-70010"), dir / "passwd",
                        dir / "group");
    });
    EXPECT_NE(why.find("corral.toml:7:13: security.uid_range 70000-70010: user 'vmuser'"),
              std::string::npos)
        << why;
    why = refusal(
        [&] { uidRangeSetting("corral.toml: ", std::nullopt, dir / "passwd", dir / "group"); });
    EXPECT_NE(why.find("the default security.uid_range 70000-79999: user 'vmuser'"),
              std::string::npos)
        << why;
    EXPECT_EQ(uidRangeSetting("", std::string("80000-80001"), dir / "passwd", dir / "group").first,
              80000u);
}

TEST(ConfinedTls, CredentialsOfEachCompleteRoleGoOnTheCommandLine) {
    test::TempDir dir;
    EXPECT_TRUE(tlsCredsArgv({}).empty());
    EXPECT_TRUE(tlsCredsArgv(dir.path()).empty());
    for (const char* file : {"ca-cert.pem", "client-cert.pem", "client-key.pem"})
        std::ofstream(dir / file) << "pem";
    auto argv = tlsCredsArgv(dir.path());
    ASSERT_EQ(argv.size(), 2u);
    EXPECT_EQ(argv[1], "tls-creds-x509,id=corral-migration-tls-client,dir=" + dir.path().string() +
                           ",endpoint=client,verify-peer=on");
    EXPECT_TRUE(tlsCredsOnCommandLine(argv, false));
    EXPECT_FALSE(tlsCredsOnCommandLine(argv, true));
    for (const char* file : {"server-cert.pem", "server-key.pem"})
        std::ofstream(dir / file) << "pem";
    argv = tlsCredsArgv(dir.path());
    ASSERT_EQ(argv.size(), 4u);
    EXPECT_TRUE(tlsCredsOnCommandLine(argv, true));
}

TEST(ConfinedTls, AConfinedQemuWithoutTheObjectCannotMigrateOverTls) {
    std::vector<std::string> confined = {"qemu-system-x86_64", "-runas", "70000:70000"};
    auto why = confinedTlsProblem(confined, false);
    ASSERT_TRUE(why);
    EXPECT_NE(why->find("restart the VM"), std::string::npos) << *why;
    EXPECT_FALSE(confinedTlsProblem({"qemu-system-x86_64"}, false));  // unconfined: object-add
    confined.insert(confined.end(),
                    {"-object", "tls-creds-x509,id=corral-migration-tls-client,dir=/t"});
    EXPECT_FALSE(confinedTlsProblem(confined, false));
    EXPECT_TRUE(confinedTlsProblem(confined, true));
}

}  // namespace
}  // namespace corral::supervisor

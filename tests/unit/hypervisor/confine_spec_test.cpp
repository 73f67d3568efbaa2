// [security] confine of an instance file: read, refused at its position, and what it does to the
// command line a launch appends.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "hypervisor/confinement.hpp"
#include "hypervisor/instance_spec.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::hypervisor {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ConfineSpec : public ::testing::Test {
  protected:
    ConfineSpec() { std::ofstream(dir_ / "vmlinuz") << "x"; }

    std::string base() const {
        return "[boot]\nkernel = \"" + (dir_ / "vmlinuz").string() + "\"\n";
    }

    LoadResult load(const std::string& security) {
        return parseInstanceSpec(base() + "[security]\n" + security, "vm1.toml");
    }
    std::vector<std::string> errors(const std::string& security) {
        std::vector<std::string> out;
        for (const auto& d : load(security).diagnostics) out.push_back(d.format());
        return out;
    }

    test::TempDir dir_;
};

TEST_F(ConfineSpec, ConfinedUnlessTheFileSaysFalse) {
    auto plain = parseInstanceSpec(base(), "vm1.toml");
    ASSERT_TRUE(plain.ok());
    EXPECT_TRUE(plain.spec->security.confine);
    auto on = load("confine = true\n");
    ASSERT_TRUE(on.ok());
    EXPECT_TRUE(on.spec->security.confine);
    auto off = load("confine = false\n");
    ASSERT_TRUE(off.ok());
    EXPECT_FALSE(off.spec->security.confine);
}

TEST_F(ConfineSpec, BadValuesAtTheirPosition) {
    EXPECT_THAT(errors("confine = \"no\"\n"),
                ElementsAre("vm1.toml:4:11: error: confine: expected a boolean (true or false), "
                            "got a string"));
    EXPECT_THAT(errors("confine = 0\n"),
                ElementsAre("vm1.toml:4:11: error: confine: expected a boolean (true or false), "
                            "got an integer"));
    EXPECT_THAT(errors("confined = false\n"),
                ElementsAre(HasSubstr("vm1.toml:4:1: error: unknown key \"confined\" in "
                                      "[security]")));
    auto notATable = parseInstanceSpec("security = false\n" + base(), "vm1.toml");
    ASSERT_EQ(notATable.diagnostics.size(), 1u);
    EXPECT_THAT(notATable.diagnostics[0].format(),
                HasSubstr("vm1.toml:1:12: error: security: expected a table ([security])"));
}

bool has(const std::vector<std::string>& argv, const std::string& word) {
    return std::find(argv.begin(), argv.end(), word) != argv.end();
}

TEST_F(ConfineSpec, FalseAppendsNoSandboxRunasChrootOrUid) {
    test::TempDir runtime;
    ConfinePolicy policy;
    policy.on = true;
    policy.range = {70000, 70009};
    policy.preload = [] { return std::vector<std::string>{"-object", "tls"}; };
    auto confined = launchConfinement(policy, true, runtime.path(), "vm1");
    EXPECT_TRUE(has(confined, "-sandbox") && has(confined, "-runas") && has(confined, "-chroot"))
        << ::testing::PrintToString(confined);
    EXPECT_EQ(confinedUid(confined), 70000u);
    EXPECT_TRUE(has(confined, "tls"));
    EXPECT_FALSE(unconfinedWhy(policy, true));

    EXPECT_EQ(launchConfinement(policy, false, runtime.path(), "vm1"), std::vector<std::string>{});
    EXPECT_EQ(unconfinedWhy(policy, false), "its definition sets [security] confine = false");
    policy.on = false;  // corrald not root
    EXPECT_EQ(launchConfinement(policy, true, runtime.path(), "vm1"), std::vector<std::string>{});
    EXPECT_EQ(unconfinedWhy(policy, true), "corrald does not run as root");
}

}  // namespace
}  // namespace corral::hypervisor

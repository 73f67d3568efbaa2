// Postcopy's pure parts: when precopy switches (always: after the first pass; auto: when the RAM
// left to send stops shrinking), what query-migrate's pass counter parses to, and the host
// requirement a confined destination qemu has.
#include <gtest/gtest.h>

#include "supervisor/migration_postcopy.hpp"
#include "supervisor/qmp_link.hpp"

namespace corral::supervisor::test {
namespace {

constexpr std::uint64_t kMiB = 1 << 20;

TEST(PostcopySwitch, AlwaysSwitchesOnceTheFirstPassIsOver) {
    PostcopySwitch rule(PostcopyMode::Always);
    EXPECT_FALSE(rule.observe(0, 0));  // setup: no RAM figures yet
    EXPECT_FALSE(rule.observe(1, 200 * kMiB));
    EXPECT_FALSE(rule.observe(1, 10 * kMiB));
    EXPECT_TRUE(rule.observe(2, 40 * kMiB));
    EXPECT_TRUE(rule.observe(2, 30 * kMiB));  // and stays due
}

TEST(PostcopySwitch, NeverSwitches) {
    PostcopySwitch rule(PostcopyMode::Never);
    for (std::uint64_t pass = 1; pass < 20; ++pass) EXPECT_FALSE(rule.observe(pass, 50 * kMiB));
}

TEST(PostcopySwitch, AutoSwitchesWhenRemainingStopsShrinkingOverThreePasses) {
    PostcopySwitch rule(PostcopyMode::Auto);
    EXPECT_FALSE(rule.observe(1, 200 * kMiB));
    // Passes 2..4 leave about the same: not yet three passes to compare with.
    EXPECT_FALSE(rule.observe(2, 40 * kMiB));
    EXPECT_FALSE(rule.observe(2, 20 * kMiB));  // within a pass: only its first figure counts
    EXPECT_FALSE(rule.observe(3, 39 * kMiB));
    EXPECT_FALSE(rule.observe(4, 41 * kMiB));
    // Pass 5 starts with 38 MiB: above 9/10 of pass 2's 40 MiB, precopy does not converge.
    EXPECT_TRUE(rule.observe(5, 38 * kMiB));
    EXPECT_TRUE(rule.observe(6, 1 * kMiB));
}

TEST(PostcopySwitch, AutoKeepsPrecopyWhileItConverges) {
    PostcopySwitch rule(PostcopyMode::Auto);
    // Each pass leaves three quarters of the last: precopy gets there by itself.
    std::uint64_t remaining = 400 * kMiB;
    for (std::uint64_t pass = 2; pass < 14; ++pass) {
        EXPECT_FALSE(rule.observe(pass, remaining)) << "pass " << pass;
        remaining = remaining * 3 / 4;
    }
}

TEST(PostcopySwitch, AutoCountsPassesSkippedBetweenPolls) {
    PostcopySwitch rule(PostcopyMode::Auto);
    // Several syncs between two polls count as one new figure each poll.
    EXPECT_FALSE(rule.observe(2, 64 * kMiB));
    EXPECT_FALSE(rule.observe(5, 64 * kMiB));
    EXPECT_FALSE(rule.observe(9, 63 * kMiB));
    EXPECT_TRUE(rule.observe(12, 60 * kMiB));  // 60 ≥ 9/10 × 64
}

TEST(PostcopySwitch, AutoEdgeIsExactlyNineTenths) {
    PostcopySwitch shrinking(PostcopyMode::Auto);
    for (std::uint64_t pass = 2; pass < 5; ++pass) shrinking.observe(pass, 100 * kMiB);
    EXPECT_FALSE(shrinking.observe(5, 90 * kMiB - 1));  // more than a tenth less: progress
    PostcopySwitch stuck(PostcopyMode::Auto);
    for (std::uint64_t pass = 2; pass < 5; ++pass) stuck.observe(pass, 100 * kMiB);
    EXPECT_TRUE(stuck.observe(5, 90 * kMiB));
}

TEST(PostcopyMode, ParsesTheThreeWords) {
    EXPECT_EQ(postcopyModeOf("never"), PostcopyMode::Never);
    EXPECT_EQ(postcopyModeOf("auto"), PostcopyMode::Auto);
    EXPECT_EQ(postcopyModeOf("always"), PostcopyMode::Always);
    EXPECT_FALSE(postcopyModeOf(""));
    EXPECT_FALSE(postcopyModeOf("on"));
}

TEST(PostcopyHost, AConfinedQemuNeedsUnprivilegedUserfaultfd) {
    EXPECT_FALSE(postcopyHostProblem(std::nullopt, std::string("0")));
    EXPECT_FALSE(postcopyHostProblem(std::nullopt, std::nullopt));
    EXPECT_FALSE(postcopyHostProblem(70001u, std::string("1")));
    auto problem = postcopyHostProblem(70001u, std::string("0"));
    ASSERT_TRUE(problem);
    EXPECT_NE(problem->find("runs confined as uid 70001"), std::string::npos) << *problem;
    EXPECT_NE(problem->find("vm.unprivileged_userfaultfd is 0"), std::string::npos) << *problem;
    EXPECT_NE(problem->find("sysctl vm.unprivileged_userfaultfd=1"), std::string::npos);
    auto unreadable = postcopyHostProblem(70001u, std::nullopt);
    ASSERT_TRUE(unreadable);
    EXPECT_NE(unreadable->find("is unreadable"), std::string::npos) << *unreadable;
}

TEST(MigrationQuery, ReadsThePassCounter) {
    auto query = parseMigrationQuery(
        R"({"status":"active","ram":{"transferred":10,"remaining":20,"total":30,)"
        R"("dirty-sync-count":4,"page-size":4096}})");
    ASSERT_TRUE(query);
    EXPECT_EQ(query.value().dirtySyncCount, 4u);
    EXPECT_EQ(query.value().progress.remaining, 20u);
    EXPECT_EQ(parseMigrationQuery(R"({"status":"setup"})").value().dirtySyncCount, 0u);
}

}  // namespace
}  // namespace corral::supervisor::test

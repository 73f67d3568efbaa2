// Postcopy with a real guest (TCG) between two real corrald in two network namespaces: the guest
// dirties memory faster than a low bandwidth lets precopy converge, and with postcopy `always`
// and `auto` it moves all the same: its uptime and its counter go on on the destination, the
// source ends stopped as "migrated to". A confined destination qemu needs a userfaultfd, which
// this host may not give an unprivileged uid: then postcopy is refused before anything starts.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>

#include "tests/integration/migration/migration_guest.hpp"

namespace corral::test {
namespace {

std::string unprivilegedUserfaultfd() {
    std::ifstream in("/proc/sys/vm/unprivileged_userfaultfd");
    std::string value;
    in >> value;
    return value;
}

// postcopy-ram needs a userfaultfd in the destination's qemu: root's (unconfined) always works.
class PostcopyGuest : public MigrationGuest {
  protected:
    std::string definitionExtra() const override { return "\n[security]\nconfine = false\n"; }

    // corralctl migrate --postcopy MODE with a bandwidth too low for the guest's dirtying, then
    // everything the issue asks of the guest after it.
    void moveWithPostcopy(const std::string& mode) {
        double uptimeBefore = uptimeOf(exec(src, "cat /proc/uptime").output);
        ASSERT_GT(uptimeBefore, 0);
        startTicks();
        startDirtying();
        std::optional<TickReader> before;
        before.emplace(src.runtimeDir() / "vm1" / "serial.sock");
        startCorralctlMigrate(
            {"--bandwidth", "4000000", "--downtime", "50", "--postcopy", mode, "--timeout", "400"});
        auto after = destinationTicks();
        auto migrated = finishMigrate(420s);
        ASSERT_EQ(migrated.status, 0) << migrated.output << src.log() << dst.log();
        // It went through postcopy (a plain progress line per change) and QEMU's logs agree.
        EXPECT_NE(migrated.output.find("vm1: postcopy "), std::string::npos) << migrated.output;
        EXPECT_NE(src.log().find("vm1: switching to postcopy"), std::string::npos) << src.log();

        EXPECT_EQ(src.property("vm1", "State"), "s \"stopped\"");
        EXPECT_EQ(src.property("vm1", "LastExit"), "s \"migrated to " + dst.address() + "\"");
        EXPECT_EQ(src.property("vm1", "MigrationState"), "s \"completed\"");
        EXPECT_TRUE(src.qemuPids().empty());
        EXPECT_EQ(dst.property("vm1", "State"), "s \"running\"") << dst.log();
        ASSERT_TRUE(dst.waitProperty("vm1", "AgentConnected", "b true", 60s)) << dst.log();
        double uptimeAfter = uptimeOf(exec(dst, "cat /proc/uptime").output);
        EXPECT_GE(uptimeAfter, uptimeBefore) << "the guest rebooted";

        // The counter goes on where it was: the destination's first tick follows the source's
        // last, and more come.
        auto sourceTicks = ticks(before->lines());
        before.reset();
        ASSERT_FALSE(sourceTicks.empty());
        auto deadline = Clock::now() + 30s;
        while (ticks(after->lines()).size() < 10 && Clock::now() < deadline)
            std::this_thread::sleep_for(100ms);
        auto destTicks = ticks(after->lines());
        ASSERT_GE(destTicks.size(), 10u) << "the counter stopped on the destination";
        EXPECT_GT(destTicks.front().second, sourceTicks.back().second - 1);
        EXPECT_LE(destTicks.front().second, sourceTicks.back().second + 2)
            << "ticks lost across the switch";
        EXPECT_EQ(destTicks.back().second - destTicks.front().second,
                  static_cast<long>(destTicks.size()) - 1);
        std::cout << "postcopy " << mode << ": last source tick " << sourceTicks.back().second
                  << ", first destination tick " << destTicks.front().second << ", gap "
                  << std::chrono::duration_cast<std::chrono::milliseconds>(destTicks.front().first -
                                                                           sourceTicks.back().first)
                         .count()
                  << " ms\n";
    }
};

TEST_F(PostcopyGuest, AlwaysMovesAGuestPrecopyCannotKeepUpWith) {
    moveWithPostcopy("always");
}

TEST_F(PostcopyGuest, AutoSwitchesWhenPrecopyDoesNotConverge) {
    moveWithPostcopy("auto");
    EXPECT_NE(src.log().find("vm1: precopy does not converge"), std::string::npos) << src.log();
}

// A confined VM (the default): its destination qemu runs as an unprivileged uid.
TEST_F(MigrationGuest, PostcopyOfAConfinedVmNeedsUnprivilegedUserfaultfd) {
    startMigrate({"1", "postcopy", "s", "always"});
    auto result = finishMigrate(120s);
    if (unprivilegedUserfaultfd() == "1") {
        EXPECT_EQ(result.status, 0) << result.output << src.log() << dst.log();
        return;
    }
    EXPECT_NE(result.status, 0);
    EXPECT_NE(result.output.find("postcopy needs a userfaultfd for the destination's qemu, "
                                 "which runs confined as uid"),
              std::string::npos)
        << result.output;
    EXPECT_NE(result.output.find("set sysctl vm.unprivileged_userfaultfd=1"), std::string::npos)
        << result.output;
    EXPECT_EQ(src.property("vm1", "MigrationState"), "s \"failed\"");
    expectOnSourceOnly();
}

}  // namespace
}  // namespace corral::test

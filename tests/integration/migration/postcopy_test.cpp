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

    // The guest rewrites 16 MiB of its RAM-backed /tmp over and over: at the switch to postcopy
    // megabytes are left to send, so the postcopy phase lasts (with postcopy_bandwidth low).
    void startDirtyingMore() {
        auto r = exec(src,
                      "(while :; do dd if=/dev/urandom of=/tmp/dirty bs=64k count=256 "
                      "2>/dev/null; done) >/dev/null 2>&1 </dev/null & echo started");
        ASSERT_NE(r.output.find("started"), std::string::npos) << r.output;
    }

    // Stopped and "migrated to" here, running there with its agent, and not rebooted.
    void expectMovedWithoutReboot(double uptimeBefore) {
        EXPECT_EQ(src.property("vm1", "State"), "s \"stopped\"");
        EXPECT_EQ(src.property("vm1", "LastExit"), "s \"migrated to " + dst.address() + "\"");
        EXPECT_EQ(src.property("vm1", "MigrationState"), "s \"completed\"");
        EXPECT_TRUE(src.qemuPids().empty());
        EXPECT_EQ(dst.property("vm1", "State"), "s \"running\"") << dst.log();
        ASSERT_TRUE(dst.waitProperty("vm1", "AgentConnected", "b true", 60s)) << dst.log();
        double uptimeAfter = uptimeOf(exec(dst, "cat /proc/uptime").output);
        EXPECT_GE(uptimeAfter, uptimeBefore) << "the guest rebooted";
    }

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

        expectMovedWithoutReboot(uptimeBefore);

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

// The link between the hosts goes down once the guest runs on the destination: QEMU's stream
// stalls (TCP would take minutes to notice), corrald pauses it and, once the link is back,
// recovers it (RecoverIncoming there, migrate resume here); the guest goes on as if nothing
// happened and the source ends stopped as "migrated to".
TEST_F(PostcopyGuest, ALinkDownMidPostcopyIsRecoveredOnceItIsBack) {
    double uptimeBefore = uptimeOf(exec(src, "cat /proc/uptime").output);
    ASSERT_GT(uptimeBefore, 0);
    startTicks();
    startDirtyingMore();
    startMigrate({"5", "bandwidth", "t", "4000000", "downtime_ms", "t", "50", "postcopy", "s",
                  "always", "postcopy_bandwidth", "t", "500000", "timeout", "t", "400"});
    ASSERT_TRUE(src.waitProperty("vm1", "MigrationState", "s \"postcopy\"", 180s))
        << src.log() << readFile(migrateOut);
    auto after = destinationTicks();
    // The guest runs there (FinishIncoming answered): from here the stream carries its pages.
    ASSERT_TRUE(dst.waitProperty("vm1", "State", "s \"running\"", 90s)) << dst.log();
    link.setDown(true);
    bool paused = src.waitProperty("vm1", "MigrationState", "s \"postcopy-paused\"", 90s);
    link.setDown(false);
    ASSERT_TRUE(paused) << src.log() << dst.log() << readFile(migrateOut);
    auto migrated = finishMigrate(420s);
    ASSERT_EQ(migrated.status, 0) << migrated.output << src.log() << dst.log();
    EXPECT_NE(src.log().find("vm1: postcopy stream sent nothing for"), std::string::npos);
    EXPECT_NE(src.log().find("vm1: resuming the postcopy stream to tcp:"), std::string::npos)
        << src.log();
    EXPECT_NE(dst.log().find("vm1: postcopy stream broken; waiting for the source again on"),
              std::string::npos)
        << dst.log();

    expectMovedWithoutReboot(uptimeBefore);
    // The counter goes on there, one by one.
    auto first = ticks(after->lines());
    ASSERT_FALSE(first.empty()) << "no tick on the destination";
    auto deadline = Clock::now() + 30s;
    while (ticks(after->lines()).size() < first.size() + 10 && Clock::now() < deadline)
        std::this_thread::sleep_for(100ms);
    auto destTicks = ticks(after->lines());
    ASSERT_GE(destTicks.size(), first.size() + 10) << "the counter stopped on the destination";
    EXPECT_EQ(destTicks.back().second - destTicks.front().second,
              static_cast<long>(destTicks.size()) - 1);
}

// The link stays down past the migration's timeout: recovery cannot succeed. Both qemus stay as
// they are (neither has the whole memory), the source says why and never resumes its copy, and
// the destination's journal says its stream waits for the source.
TEST_F(PostcopyGuest, ALinkDownPastTheTimeoutLeavesItSplitAndSaysSo) {
    startDirtyingMore();
    startMigrate({"5", "bandwidth", "t", "4000000", "downtime_ms", "t", "50", "postcopy", "s",
                  "always", "postcopy_bandwidth", "t", "500000", "timeout", "t", "45"});
    ASSERT_TRUE(src.waitProperty("vm1", "MigrationState", "s \"postcopy\"", 180s))
        << src.log() << readFile(migrateOut);
    ASSERT_TRUE(dst.waitProperty("vm1", "State", "s \"running\"", 90s)) << dst.log();
    link.setDown(true);
    auto result = finishMigrate(240s);
    link.setDown(false);
    EXPECT_NE(result.status, 0) << result.output << src.log();
    EXPECT_NE(result.output.find("postcopy did not complete within 45 s (its stream broke and "
                                 "could not be resumed: "),
              std::string::npos)
        << result.output;
    EXPECT_NE(result.output.find("it stays paused here and must not be resumed here"),
              std::string::npos)
        << result.output;
    EXPECT_EQ(src.property("vm1", "MigrationState"), "s \"failed\"");
    EXPECT_NE(src.property("vm1", "State"), "s \"running\"") << src.log();
    EXPECT_EQ(src.pid("vm1"), sourcePid) << "the source's qemu must stay";
    EXPECT_EQ(src.qemuPids().size(), 1u);
    EXPECT_EQ(dst.qemuPids().size(), 1u) << dst.log();
    EXPECT_NE(dst.log().find("vm1: postcopy stream broken; waiting for the source again on"),
              std::string::npos)
        << dst.log();
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

// Live migration of a real guest (TCG) between two real corrald, each on its own dbus-daemon
// with its own directories, the stream between two network namespaces joined by a veth pair;
// shared storage is the same disk path seen by both. The happy path and the faults, each ending
// with the VM running on exactly one side and nothing left behind on the other.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <csignal>
#include <fstream>
#include <iostream>

#include "tests/integration/migration/migration_guest.hpp"

namespace corral::test {
namespace {

TEST_F(MigrationGuest, TheGuestGoesOnOnTheDestination) {
    // A hotplugged disk on storage both hosts see, with data written before the migration.
    auto image = src.scratch() / "data.img";
    std::filesystem::resize_file((std::ofstream(image), image), 16 << 20);
    auto attach = src.call("vm1", "AttachDisk", {"ssa{sv}", "data", image.string(), "0"});
    ASSERT_EQ(attach.status, 0) << attach.output << src.log();
    const std::string marker = "corral-migration-check";
    auto write = exec(src,
                      "i=0; while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do usleep 100000; "
                      "i=$((i+1)); done; echo " +
                          marker + " | dd of=/dev/vda conv=fsync 2>/dev/null && echo written");
    ASSERT_NE(write.output.find("written"), std::string::npos) << write.output;
    double uptimeBefore = uptimeOf(exec(src, "cat /proc/uptime").output);
    ASSERT_GT(uptimeBefore, 0);

    // A counter every 100 ms on the serial console, read on the host with arrival times.
    startTicks();
    startDirtying();
    std::optional<TickReader> before;
    before.emplace(src.runtimeDir() / "vm1" / "serial.sock");
    startMigrate({"1", "downtime_ms", "t", "300"});
    auto afterReader = destinationTicks();
    TickReader& after = *afterReader;
    auto migrated = finishMigrate();
    ASSERT_EQ(migrated.status, 0) << migrated.output << src.log() << dst.log();

    // The source: stopped, "migrated to", nothing left running, and it does not start again.
    EXPECT_EQ(src.property("vm1", "State"), "s \"stopped\"");
    EXPECT_EQ(src.property("vm1", "LastExit"), "s \"migrated to " + dst.address() + "\"");
    EXPECT_EQ(src.property("vm1", "MigrationState"), "s \"completed\"");
    auto progress = src.property("vm1", "MigrationProgress");
    auto downtime = progressField(progress, "downtime_ms");
    EXPECT_GT(progressField(progress, "transferred"), 0u) << progress;
    EXPECT_TRUE(src.qemuPids().empty());
    auto again = src.call("vm1", "Start");
    EXPECT_NE(again.status, 0);
    EXPECT_NE(again.output.find("was migrated to"), std::string::npos) << again.output;
    EXPECT_TRUE(std::filesystem::exists(src.stateDir() / "vm1" / "migrated-to"));

    // The destination: a defined, running instance whose guest did not reboot.
    EXPECT_TRUE(std::filesystem::exists(dst.instancesDir() / "vm1.toml"));
    EXPECT_EQ(dst.property("vm1", "State"), "s \"running\"") << dst.log();
    ASSERT_TRUE(dst.waitProperty("vm1", "AgentConnected", "b true", 60s)) << dst.log();
    double uptimeAfter = uptimeOf(exec(dst, "cat /proc/uptime").output);
    EXPECT_GE(uptimeAfter, uptimeBefore) << "the guest rebooted";
    EXPECT_NE(dst.property("vm1", "Devices").find("\"data\""), std::string::npos);
    auto read = exec(dst, "dd if=/dev/vda bs=512 count=1 2>/dev/null | head -c 22");
    EXPECT_NE(read.output.find(marker), std::string::npos) << read.output;

    // The counter: no gap longer than QEMU's downtime plus the switchover's own steps: the
    // source hears `completed` at once (QEMU's MIGRATION event; without it, at the next
    // query-migrate, up to 500 ms later), FinishIncoming (D-Bus round trip, query-status, cont)
    // and the tick period (100 ms), with 1 s for TCG's scheduling on a shared machine.
    auto sourceTicks = ticks(before->lines());
    before.reset();
    auto destTicks = ticks(after.lines());
    ASSERT_FALSE(sourceTicks.empty());
    ASSERT_FALSE(destTicks.empty()) << "no tick on the destination's console";
    EXPECT_GT(destTicks.front().second, sourceTicks.back().second - 1);
    EXPECT_LE(destTicks.front().second, sourceTicks.back().second + 2)
        << "ticks lost across the switchover";
    auto ms = [](Clock::duration d) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    };
    long long switchGap = ms(destTicks.front().first - sourceTicks.back().first);
    long long largest = switchGap;
    for (const auto* list : {&sourceTicks, &destTicks})
        for (std::size_t i = 1; i < list->size(); ++i)
            largest = std::max<long long>(largest, ms((*list)[i].first - (*list)[i - 1].first));
    auto bound = static_cast<long long>(downtime) + 100 + 1000;
    std::cout << "migration: QEMU downtime " << downtime << " ms, switchover gap " << switchGap
              << " ms, largest tick gap " << largest << " ms, bound " << bound << " ms\n";
    EXPECT_LE(largest, bound);
}

// The faults: each before the switchover, each ends with the VM on the source (same qemu, still
// answering) and nothing on the destination. 1 MB/s makes the transfer of the guest's RAM (tens
// of MiB that are not zero, and more dirtied all the time) last long enough to hit.
const std::vector<std::string> kSlow = {"1", "bandwidth", "t", "1000000"};

// TLS: a source that does not trust the destination's CA is refused (the VM stays), with the
// right CA the guest moves over the encrypted stream; each side proves itself with a certificate.
TEST_F(MigrationGuest, TlsRefusesAnUntrustedDestinationAndMovesWithTheRightCa) {
    auto ca = src.scratch() / "ca", other = src.scratch() / "other-ca";
    writeCertificates(ca, dst.scratch() / "pki", "server", VethLink::kDestinationAddress);
    writeCertificates(other, src.scratch() / "pki", "client", "");
    restartSource();
    startMigrate({"1", "tls", "b", "true"});
    auto refused = finishMigrate();
    EXPECT_NE(refused.status, 0) << refused.output;
    EXPECT_NE(refused.output.find("The certificate hasn't got a known issuer; vm1 runs here."),
              std::string::npos)
        << refused.output;
    expectOnSourceOnly();

    writeCertificates(ca, src.scratch() / "pki", "client", "");
    restartSource();
    startMigrate({"1", "tls", "b", "true"});
    auto moved = finishMigrate();
    ASSERT_EQ(moved.status, 0) << moved.output << src.log() << dst.log();
    EXPECT_EQ(dst.property("vm1", "State"), "s \"running\"") << dst.log();
    EXPECT_TRUE(dst.waitProperty("vm1", "AgentConnected", "b true", 60s)) << dst.log();
    EXPECT_NE(src.property("vm1", "LastExit").find("migrated to"), std::string::npos);
}

TEST_F(MigrationGuest, CancelLeavesItOnTheSource) {
    startDirtying();
    startMigrate(kSlow);
    waitActive();
    auto cancel = runCommand({std::string(CORRAL_BINARY_DIR) + "/supervisor/corralctl", "--address",
                              src.address(), "migrate", "--cancel", "vm1"},
                             30s, src.scratch());
    EXPECT_EQ(cancel.status, 0) << cancel.output;
    EXPECT_EQ(cancel.output, "vm1: cancel requested\n");
    auto result = finishMigrate(60s);
    EXPECT_NE(result.status, 0);
    EXPECT_NE(result.output.find("cancelled"), std::string::npos) << result.output;
    EXPECT_NE(result.output.find("vm1 runs here"), std::string::npos) << result.output;
    EXPECT_EQ(src.property("vm1", "MigrationState"), "s \"cancelled\"");
    expectOnSourceOnly();
}

TEST_F(MigrationGuest, DestinationQemuKilledMidTransfer) {
    startDirtying();
    startMigrate(kSlow);
    waitActive();
    for (pid_t pid : dst.qemuPids()) ::kill(pid, SIGKILL);
    auto result = finishMigrate(60s);
    EXPECT_NE(result.status, 0);
    EXPECT_NE(result.output.find("vm1 runs here"), std::string::npos) << result.output;
    EXPECT_EQ(src.property("vm1", "MigrationState"), "s \"failed\"");
    expectOnSourceOnly();
}

TEST_F(MigrationGuest, DestinationCorraldKilledMidTransfer) {
    startDirtying();
    startMigrate(kSlow);
    waitActive();
    dst.killCorrald();
    auto result = finishMigrate(60s);
    EXPECT_NE(result.status, 0);
    EXPECT_NE(result.output.find("the destination corrald went away"), std::string::npos)
        << result.output << src.log();
    expectOnSourceOnly();
    // A restarted destination corrald removes what the dead one left.
    dst.start(destinationConfig() + tlsDirLine(dst));
    EXPECT_FALSE(std::filesystem::exists(dst.runtimeDir() / "vm1")) << dst.log();
    EXPECT_FALSE(dst.listed("vm1"));
}

TEST_F(MigrationGuest, LinkDownMidTransferEndsAtTheTimeout) {
    startDirtying();
    startMigrate({"2", "bandwidth", "t", "1000000", "timeout", "t", "8"});
    waitActive();
    link.setDown(true);
    auto result = finishMigrate(90s);
    link.setDown(false);
    EXPECT_NE(result.status, 0);
    EXPECT_NE(result.output.find("vm1 runs here"), std::string::npos) << result.output;
    expectOnSourceOnly();
}

TEST_F(MigrationGuest, TooLittleBandwidthToConvergeEndsAtTheTimeout) {
    startDirtying();
    startCorralctlMigrate({"--bandwidth", "100000", "--timeout", "5"});
    waitActive();
    auto result = finishMigrate(90s);
    EXPECT_EQ(result.status, 1) << result.output;
    // Plain progress lines (not a terminal), from MigrationProgress as it changed.
    EXPECT_NE(result.output.find("vm1: active "), std::string::npos) << result.output;
    EXPECT_NE(result.output.find(" MiB/s, ETA "), std::string::npos) << result.output;
    EXPECT_NE(result.output.find("did not converge within 5 s"), std::string::npos)
        << result.output;
    expectOnSourceOnly();
}

TEST_F(MigrationGuest, BadDestinationsLeaveTheVmAlone) {
    // Nobody at that address.
    auto nobody = src.call(
        "vm1", "Migrate", {"sa{sv}", "unix:path=" + (src.scratch() / "nobody.sock").string(), "0"});
    EXPECT_NE(nobody.status, 0);
    EXPECT_NE(nobody.output.find("cannot connect to unix:path="), std::string::npos)
        << nobody.output;
    // The name is taken there.
    dst.writeDefinition("vm1", guestDefinition());
    dst.manager("Reload");
    auto taken = src.call("vm1", "Migrate", {"sa{sv}", dst.address(), "0"});
    EXPECT_NE(taken.status, 0);
    EXPECT_NE(taken.output.find("exists already on this host"), std::string::npos) << taken.output;
    EXPECT_EQ(src.property("vm1", "State"), "s \"running\"");
    EXPECT_EQ(src.pid("vm1"), sourcePid);
    EXPECT_TRUE(dst.qemuPids().empty());
    EXPECT_EQ(dst.property("vm1", "State"), "s \"stopped\"");
}

TEST_F(MigrationGuest, SourceCorraldKilledMidTransferAndRestarted) {
    startDirtying();
    startMigrate(kSlow);
    waitActive();
    src.killCorrald();
    finishMigrate(30s);  // its caller lost the reply with the corrald
    src.start("[migration]\n" + tlsDirLine(src));
    // The restarted corrald reattaches the qemu, cancels the stream and aborts the destination.
    EXPECT_TRUE(src.waitProperty("vm1", "MigrationState", "s \"failed\"", 60s)) << src.log();
    expectOnSourceOnly();
    EXPECT_NE(src.log().find("corrald restarted during its migration"), std::string::npos)
        << src.log();
    EXPECT_FALSE(std::filesystem::exists(src.stateDir() / "vm1" / "migrating"));
}

// The latest point: the source corrald stopped (SIGSTOP) once the switchover has begun (its
// record says `switching`, FinishIncoming goes out right after it), SIGKILLed only once the
// destination has resumed the VM, so the reply is lost. The restarted source asks the
// destination (IncomingState), which says `arrived`: the VM runs there only, and the source says
// "migrated to".
TEST_F(MigrationGuest, SourceCorraldKilledAfterTheSwitchoverAndRestarted) {
    startMigrate({"1", "bandwidth", "t", "5000000"});
    waitActive();
    ASSERT_TRUE(waitSwitching());
    ASSERT_EQ(::kill(src.corraldPid(), SIGSTOP), 0);
    bool arrived = dst.waitProperty("vm1", "State", "s \"running\"", 60s);
    src.killCorrald();
    ASSERT_TRUE(arrived) << dst.log() << src.log();
    finishMigrate(30s);  // its caller lost the reply with the corrald
    src.start("[migration]\n" + tlsDirLine(src));
    EXPECT_TRUE(src.waitProperty("vm1", "State", "s \"stopped\"", 60s)) << src.log();
    EXPECT_EQ(src.property("vm1", "LastExit"), "s \"migrated to " + dst.address() + "\"");
    // "completed" once the qemu here is gone, which comes after State "stopped".
    EXPECT_TRUE(src.waitProperty("vm1", "MigrationState", "s \"completed\"", 30s)) << src.log();
    EXPECT_NE(src.log().find("vm1: after the restart, " + dst.address() + " says 'arrived'"),
              std::string::npos)
        << src.log();
    auto gone = Clock::now() + 20s;
    while (!src.qemuPids().empty() && Clock::now() < gone) std::this_thread::sleep_for(50ms);
    EXPECT_TRUE(src.qemuPids().empty());
    EXPECT_TRUE(std::filesystem::exists(src.stateDir() / "vm1" / "migrated-to"));
    EXPECT_FALSE(std::filesystem::exists(src.stateDir() / "vm1" / "migrating"));
    EXPECT_EQ(dst.qemuPids().size(), 1u);
    ASSERT_TRUE(dst.waitProperty("vm1", "AgentConnected", "b true", 60s)) << dst.log();
    auto alive = exec(dst, "echo alive");
    EXPECT_NE(alive.output.find("alive"), std::string::npos) << alive.output;
}

// The other side of that point: the destination corrald frozen (SIGSTOP) before the switchover,
// so FinishIncoming waits in its queue; the source corrald SIGKILLed once its record says
// `switching`. The destination then cannot tell who called (the caller is gone) and refuses
// the Finish, its incoming qemu still paused; the restarted source hears `waiting`, aborts the
// incoming VM and resumes its own qemu: the VM runs here only, with the same pid.
TEST_F(MigrationGuest, SourceCorraldKilledWhileFinishIsQueuedAndRestarted) {
    startMigrate({"1", "bandwidth", "t", "5000000"});
    waitActive();
    pid_t frozen = dst.corraldPid();
    ASSERT_EQ(::kill(frozen, SIGSTOP), 0);
    bool switching = waitSwitching();
    src.killCorrald();
    ::kill(frozen, SIGCONT);
    ASSERT_TRUE(switching) << src.log();
    finishMigrate(30s);
    src.start("[migration]\n" + tlsDirLine(src));
    EXPECT_TRUE(src.waitProperty("vm1", "MigrationState", "s \"failed\"", 60s)) << src.log();
    EXPECT_NE(src.log().find("vm1: after the restart, " + dst.address() + " says 'waiting'"),
              std::string::npos)
        << src.log() << dst.log();
    expectOnSourceOnly();
    EXPECT_FALSE(std::filesystem::exists(src.stateDir() / "vm1" / "migrating"));
    EXPECT_FALSE(std::filesystem::exists(src.stateDir() / "vm1" / "migrated-to"));
}

}  // namespace
}  // namespace corral::test

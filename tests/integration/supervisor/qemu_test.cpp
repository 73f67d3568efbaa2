// corrald with real qemu processes whose guests are not waited for: autostart (once per boot),
// one VM's slow shutdown not delaying requests to another, Start of a removed definition,
// hotplugged NICs whose MAC clashes.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <iterator>
#include <thread>

#include "hypervisor/instance_spec.hpp"
#include "tests/integration/supervisor/corrald_fixture.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;

class QemuUnderCorrald : public CorraldFixture {};

TEST_F(QemuUnderCorrald, AutostartInstancesRunAfterDaemonStart) {
    GuestOptions options;
    options.autostart = true;
    writeGuest("auto1", options);
    writeGuest("manual1");
    startCorrald();
    EXPECT_TRUE(waitProperty("auto1", "State", "s \"running\"", 20s)) << corraldLog();
    EXPECT_EQ(property("manual1", "State"), "s \"stopped\"");
    EXPECT_EQ(call("auto1", "Kill").status, 0);
}

// Autostart is for the first corrald start of a boot: the administrator's Kill holds across a
// corrald restart (an upgrade); a marker naming another boot id (the host rebooted, the runtime
// dir survived) autostarts again.
TEST_F(QemuUnderCorrald, AutostartOnlyAtTheFirstDaemonStartOfABoot) {
    GuestOptions options;
    options.autostart = true;
    writeGuest("auto1", options);
    startCorrald();
    ASSERT_TRUE(waitProperty("auto1", "State", "s \"running\"", 20s)) << corraldLog();
    auto marker = dir_ / "run" / "autostart-boot-id";
    auto bootId = readFile("/proc/sys/kernel/random/boot_id");
    EXPECT_EQ(readFile(marker), bootId);
    ASSERT_EQ(call("auto1", "Kill").status, 0);

    killCorrald();
    startCorrald();
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (corraldLog().find("autostart skipped") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(20ms);
    EXPECT_NE(corraldLog().find("autostart skipped"), std::string::npos) << corraldLog();
    EXPECT_EQ(property("auto1", "State"), "s \"stopped\"") << corraldLog();
    EXPECT_EQ(pid("auto1"), 0);

    std::ofstream(marker, std::ios::trunc) << "00000000-0000-0000-0000-000000000000\n";
    killCorrald();
    startCorrald();
    EXPECT_TRUE(waitProperty("auto1", "State", "s \"running\"", 20s)) << corraldLog();
    EXPECT_EQ(readFile(marker), bootId);
    EXPECT_EQ(call("auto1", "Kill").status, 0);
}

// The file of a stopped instance is removed: Start is refused (the instance goes at the next
// Reload) instead of starting what the administrator deleted.
TEST_F(QemuUnderCorrald, StartOfARemovedDefinitionIsRefusedUntilReloadDropsIt) {
    writeGuest("gone1");
    startCorrald();
    std::filesystem::remove(dir_ / "instances" / "gone1.toml");
    auto start = call("gone1", "Start");
    EXPECT_NE(start.status, 0);
    EXPECT_NE(start.output.find("gone1's definition file " +
                                (dir_ / "instances" / "gone1.toml").string() +
                                " was removed; Reload to drop it"),
              std::string::npos)
        << start.output;
    EXPECT_EQ(property("gone1", "State"), "s \"stopped\"");
    EXPECT_EQ(pid("gone1"), 0);
    auto reload = busctl({"call", "org.corral1", "/org/corral1", "org.corral1.Manager", "Reload"});
    ASSERT_EQ(reload.status, 0) << reload.output;
    EXPECT_NE(call("gone1", "Start").status, 0);
    EXPECT_NE(
        busctl({"get-property", "org.corral1", path("gone1"), "org.corral1.Instance", "State"})
            .status,
        0);
}

// A hotplugged NIC may not reuse a MAC the VM already has: a boot-time NIC's, a hotplugged one's,
// or the default MAC derived for its id.
TEST_F(QemuUnderCorrald, AttachNicWithAMacTheVmHasIsRefusedNamingTheOtherNic) {
    writeGuest("mac1");
    std::ofstream(dir_ / "instances" / "mac1.toml", std::ios::app)
        << "\n[[nic]]\nid = \"boot0\"\nmac = \"52:54:00:00:00:1a\"\n"
        << "\n[[nic]]\nid = \"boot1\"\nmac = \"" << hypervisor::derivedMac("mac1", "hot2")
        << "\"\n";
    startCorrald();
    ASSERT_EQ(call("mac1", "Start").status, 0) << corraldLog();
    auto same = call("mac1", "AttachNic", {"sa{sv}", "hot0", "1", "mac", "s", "52:54:00:00:00:1a"});
    EXPECT_NE(same.status, 0);
    EXPECT_NE(same.output.find("52:54:00:00:00:1a is already used by nic boot0"), std::string::npos)
        << same.output;
    // Spelled differently, the same address.
    auto upper =
        call("mac1", "AttachNic", {"sa{sv}", "hot0", "1", "mac", "s", "52:54:00:00:00:1A"});
    EXPECT_NE(upper.output.find("boot0"), std::string::npos) << upper.output;

    ASSERT_EQ(
        call("mac1", "AttachNic", {"sa{sv}", "hot1", "1", "mac", "s", "52:54:00:00:00:20"}).status,
        0)
        << corraldLog();
    auto again =
        call("mac1", "AttachNic", {"sa{sv}", "hot3", "1", "mac", "s", "52:54:00:00:00:20"});
    EXPECT_NE(again.output.find("is already used by nic hot1"), std::string::npos) << again.output;
    auto device = call("mac1", "AttachDevice",
                       {"ssa{sv}", "nic", "hot3", "1", "mac", "s", "52:54:00:00:00:20"});
    EXPECT_NE(device.output.find("is already used by nic hot1"), std::string::npos)
        << device.output;

    auto derived = call("mac1", "AttachNic", {"sa{sv}", "hot2", "0"});
    EXPECT_NE(derived.status, 0);
    EXPECT_NE(derived.output.find("is already used by nic boot1"), std::string::npos)
        << derived.output;
    auto devices = property("mac1", "Devices");
    EXPECT_EQ(devices.find("hot0"), std::string::npos) << devices;
    EXPECT_EQ(devices.find("hot2"), std::string::npos) << devices;
    EXPECT_EQ(devices.find("hot3"), std::string::npos) << devices;
    EXPECT_NE(devices.find("hot1"), std::string::npos) << devices;
    EXPECT_EQ(call("mac1", "Kill").status, 0);
}

TEST_F(QemuUnderCorrald, SlowShutdownDoesNotDelayAnotherInstance) {
    GuestOptions slow;
    slow.shutdownTimeout = "10s";
    slow.extraCmdline = " corral.acpi=ignore";
    writeGuest("slow1", slow);
    writeGuest("fast1");
    startCorrald();
    ASSERT_EQ(call("slow1", "Start").status, 0) << corraldLog();
    ASSERT_EQ(call("fast1", "Start").status, 0) << corraldLog();
    // The guest ignores the power button: this shutdown takes its full 10 s.
    auto shutdown =
        Process::spawn({"busctl", "--address", address_, "--timeout=60", "call", "org.corral1",
                        path("slow1"), "org.corral1.Instance", "Shutdown", "t", "0"});
    ASSERT_TRUE(waitProperty("slow1", "State", "s \"shutting-down\"", 10s));
    auto begin = std::chrono::steady_clock::now();
    EXPECT_EQ(call("fast1", "Pause").status, 0);
    EXPECT_EQ(property("fast1", "State"), "s \"paused\"");
    EXPECT_EQ(call("fast1", "Kill").status, 0);
    auto took = std::chrono::steady_clock::now() - begin;
    EXPECT_LT(took, 3s);
    EXPECT_EQ(property("slow1", "State"), "s \"shutting-down\"");
    std::printf("[ figure ] pause+read+kill of fast1 during slow1's shutdown: %lld ms\n",
                static_cast<long long>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
    EXPECT_TRUE(shutdown.wait(30s));
    EXPECT_EQ(property("slow1", "State"), "s \"stopped\"");
}

// A Reload while the VM runs parks the new definition until qemu exits; applying it then must
// leave the instance stopped and startable (it once read the parked definition after freeing it).
TEST_F(QemuUnderCorrald, ReloadWhileRunningThenExitLeavesItStoppedAndStartable) {
    writeGuest("vm1");
    startCorrald();
    ASSERT_EQ(call("vm1", "Start").status, 0) << corraldLog();
    auto reload = busctl({"call", "org.corral1", "/org/corral1", "org.corral1.Manager", "Reload"});
    ASSERT_EQ(reload.status, 0) << reload.output;
    EXPECT_EQ(call("vm1", "Kill").status, 0);
    EXPECT_EQ(property("vm1", "State"), "s \"stopped\"") << corraldLog();
    EXPECT_EQ(call("vm1", "Start").status, 0) << corraldLog();
    EXPECT_EQ(property("vm1", "State"), "s \"running\"");
    EXPECT_EQ(call("vm1", "Kill").status, 0);
}

// The image format comes from the file name unless AttachDisk's `format` option says otherwise:
// a qcow2 image named .img is attached as qcow2 only when asked.
TEST_F(QemuUnderCorrald, AttachDiskFormatOptionOverridesTheFileName) {
    writeGuest("fmt");
    startCorrald();
    ASSERT_EQ(call("fmt", "Start").status, 0) << corraldLog();
    for (const char* name : {"asked.img", "guessed.img"}) {
        auto made =
            runCommand({"qemu-img", "create", "-q", "-f", "qcow2", (dir_ / name).string(), "16M"},
                       30s, dir_.path());
        ASSERT_EQ(made.status, 0) << made.output;
    }
    auto asked =
        call("fmt", "AttachDisk",
             {"ssa{sv}", "asked", (dir_ / "asked.img").string(), "1", "format", "s", "qcow2"});
    ASSERT_EQ(asked.status, 0) << asked.output << corraldLog();
    auto bad = call("fmt", "AttachDisk",
                    {"ssa{sv}", "bad", (dir_ / "asked.img").string(), "1", "format", "s", "vmdk"});
    EXPECT_NE(bad.status, 0);
    EXPECT_NE(bad.output.find("not one of raw, qcow2"), std::string::npos) << bad.output;
    auto guessed =
        call("fmt", "AttachDisk", {"ssa{sv}", "guessed", (dir_ / "guessed.img").string(), "0"});
    ASSERT_EQ(guessed.status, 0) << guessed.output;

    auto nodes =
        call("fmt", "Monitor",
             {"s", R"({"execute": "query-named-block-nodes", "arguments": {"flat": true}})"});
    ASSERT_EQ(nodes.status, 0) << nodes.output;
    // busctl prints the JSON string with its quotes escaped.
    EXPECT_NE(nodes.output.find(
                  R"(\"node-name\":\"asked-format\",\"backing_file_depth\":0,\"drv\":\"qcow2\")"),
              std::string::npos)
        << nodes.output;
    EXPECT_NE(nodes.output.find(
                  R"(\"node-name\":\"guessed-format\",\"backing_file_depth\":0,\"drv\":\"raw\")"),
              std::string::npos)
        << nodes.output;
    EXPECT_EQ(call("fmt", "Kill").status, 0);
}

// Other qemus whose command line names this instance's monitor socket, besides `except`.
std::vector<pid_t> qemusUsing(const std::string& socket, pid_t except) {
    std::vector<pid_t> found;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        auto name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream file(entry.path() / "cmdline");
        std::string cmdline((std::istreambuf_iterator<char>(file)), {});
        pid_t pid = std::stoi(name);
        if (pid != except && cmdline.find(socket) != std::string::npos &&
            cmdline.find("qemu-system") != std::string::npos)
            found.push_back(pid);
    }
    return found;
}

// {"execute": "quit"} through Monitor is an administrator ending the VM: `stopped`, never a
// crash (with on_crash = "restart" it would otherwise come back).
TEST_F(QemuUnderCorrald, QuitThroughMonitorIsAStop) {
    GuestOptions options;
    options.onCrash = "restart";
    writeGuest("quit1", options);
    startCorrald();
    ASSERT_EQ(call("quit1", "Start").status, 0) << corraldLog();
    auto quit = call("quit1", "Monitor", {"s", R"({"execute": "quit"})"});
    EXPECT_EQ(quit.status, 0) << quit.output;
    EXPECT_TRUE(waitProperty("quit1", "State", "s \"stopped\"", 10s))
        << property("quit1", "State") << corraldLog();
    EXPECT_EQ(property("quit1", "LastExit"), "s \"monitor-quit\"");
}

// A qemu of the instance that corrald does not manage (left by a lost runtime state) still serves
// its monitor socket: Start must refuse, naming it, and neither spawn a second qemu nor talk to
// the orphan; once the orphan is gone, its stale socket does not stand in the way.
TEST_F(QemuUnderCorrald, StartRefusesWhileAnOrphanedQemuHoldsTheMonitorSocket) {
    writeGuest("orph");
    startCorrald();
    auto run = dir_ / "run" / "orph";
    std::filesystem::create_directories(run);
    auto socket = (run / "qmp.sock").string();
    auto orphan = Process::spawn(
        {"qemu-system-x86_64", "-machine", "none", "-accel", "tcg", "-S", "-display", "none",
         "-nodefaults", "-name", "orph", "-qmp", "unix:" + socket + ",server=on,wait=off",
         "-pidfile", (run / "qemu.pid").string()},
        dir_ / "orphan.log");
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!std::filesystem::exists(socket) && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(20ms);
    ASSERT_TRUE(std::filesystem::exists(socket)) << readFile(dir_ / "orphan.log");

    auto refused = call("orph", "Start");
    EXPECT_NE(refused.status, 0);
    EXPECT_NE(refused.output.find("another qemu of orph (pid " + std::to_string(orphan.pid()) +
                                  ") is running outside corrald's control"),
              std::string::npos)
        << refused.output;
    EXPECT_EQ(property("orph", "State"), "s \"stopped\"");
    EXPECT_EQ(property("orph", "Pid"), "u 0");
    EXPECT_TRUE(orphan.running());
    EXPECT_EQ(qemusUsing(socket, orphan.pid()), std::vector<pid_t>{});

    orphan.kill(SIGKILL);
    ASSERT_TRUE(orphan.wait(10s));
    ASSERT_TRUE(std::filesystem::exists(socket));  // stale now: nobody listens
    auto started = call("orph", "Start");
    EXPECT_EQ(started.status, 0) << started.output << corraldLog();
    EXPECT_EQ(property("orph", "State"), "s \"running\"");
    EXPECT_EQ(call("orph", "Kill").status, 0);
}

// qemu refusing at once (a disk it cannot open, an unknown machine) fails the Start with qemu's
// own last error line, in the D-Bus error and in LastExit.
TEST_F(QemuUnderCorrald, StartFailureCarriesQemusOwnErrorLine) {
    auto notQcow2 = dir_ / "not-qcow2.img";
    std::ofstream(notQcow2) << "not a qcow2 image";
    writeGuest("baddisk");
    std::ofstream(dir_ / "instances" / "baddisk.toml", std::ios::app)
        << "\n[[disk]]\npath = \"" << notQcow2.string() << "\"\nformat = \"qcow2\"\n";
    auto wrapper = dir_ / "qemu-bogus-machine";
    std::ofstream(wrapper) << "#!/bin/sh\n"
                           << "case \"$*\" in *badmachine*) exec qemu-system-x86_64 \"$@\" "
                              "-machine nonexistent-board ;; esac\n"
                           << "exec qemu-system-x86_64 \"$@\"\n";
    std::filesystem::permissions(wrapper, std::filesystem::perms::owner_all);
    writeGuest("badmachine");
    extraConfig_ = "[qemu]\nbinary = \"" + wrapper.string() + "\"\n";
    startCorrald();

    auto disk = call("baddisk", "Start");
    EXPECT_NE(disk.status, 0);
    EXPECT_NE(disk.output.find("(qemu.log: qemu-system-x86_64: -blockdev"), std::string::npos)
        << disk.output;
    EXPECT_NE(disk.output.find("qcow2"), std::string::npos) << disk.output;
    auto diskExit = property("baddisk", "LastExit");
    EXPECT_NE(diskExit.find("start failed: "), std::string::npos) << diskExit;
    EXPECT_NE(diskExit.find("(qemu.log: qemu-system-x86_64: -blockdev"), std::string::npos)
        << diskExit;
    EXPECT_EQ(property("baddisk", "State"), "s \"stopped\"");

    auto machine = call("badmachine", "Start");
    EXPECT_NE(machine.status, 0);
    EXPECT_NE(machine.output.find("(qemu.log: qemu-system-x86_64: unsupported machine type)"),
              std::string::npos)
        << machine.output;
    auto machineExit = property("badmachine", "LastExit");
    EXPECT_NE(machineExit.find("(qemu.log: qemu-system-x86_64: unsupported machine type)"),
              std::string::npos)
        << machineExit;
    EXPECT_EQ(property("badmachine", "State"), "s \"stopped\"");
}

}  // namespace
}  // namespace corral::test

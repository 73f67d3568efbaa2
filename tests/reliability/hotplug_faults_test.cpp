// Faults in the middle of a hotplug, with real qemu (TCG, no guest OS so DEVICE_DELETED never
// comes) and, for the daemon cases, corrald on a private bus. "Mid-hotplug" is made
// deterministic by SIGSTOPping qemu: the QMP command is queued on its socket, unanswered.
#include <signal.h>
#include <sys/wait.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/steady_timer.hpp>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "tests/integration/hypervisor/hotplug_fixture.hpp"
#include "tests/integration/supervisor/corrald_fixture.hpp"
#include "tests/reliability/qmp_queues.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;

int openFdsOf(pid_t pid) {
    std::error_code ec;
    auto dir = std::filesystem::path("/proc") / std::to_string(pid) / "fd";
    int count = 0;
    for (auto it = std::filesystem::directory_iterator(dir, ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
        ++count;
    return count;
}

// How long the pending call took to fail after qemu was killed.
void printTook(Clock::duration took) {
    std::printf("[ figures ] %s: failed %lld ms after the kill\n",
                ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                static_cast<long long>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
}

// Runs {"execute": ..., "arguments": ...} given as text.
awaitable<Result<monitor::Json>> executeJson(std::shared_ptr<monitor::QmpClient> qmp,
                                             std::string json) {
    auto parsed = monitor::parseJson(json);
    if (!parsed) co_return parsed.error();
    std::string command = (*parsed)["execute"].GetString();
    auto args = monitor::copyJson((*parsed)["arguments"]);
    co_return co_await qmp->execute(std::move(command), std::move(args));
}

// ---- hypervisor level: Hotplug on a paused qemu started the way corrald starts one ----

class HotplugFaults : public HotplugFixture {
  protected:
    // Like start(), without a kernel: nothing in the guest ever answers an unplug.
    void startBare(MachineType type, unsigned hotplugSlots) {
        auto spec = hypervisorSpec(type, hotplugSlots);
        spec.boot.reset();
        vm_ =
            runAsync(io_, [&](any_io_executor ex) { return startTestVm(ex, spec, dir_ / "run"); });
        hotplug_ = std::make_unique<Hotplug>(vm_->qmp, vm_->plan, vm_->spec.name);
        auto reconciled = runAsync(io_, [&](any_io_executor) { return hotplug_->reconcile(); });
        ASSERT_TRUE(reconciled) << reconciled.error().message;
    }

    // Open fds with io_'s reactor up but no VM: what must be left once the VM is gone.
    int fdsBeforeVm() {
        boost::asio::steady_timer warmUp(io_);
        return openFdCount();
    }

    // Starts `work` on io_, lets it run until it waits on qemu (its command is on the socket),
    // SIGKILLs the stopped qemu and returns `work`'s result and how long it took after the kill.
    template <typename T>
    std::pair<T, Clock::duration> killQemuDuring(boost::asio::awaitable<T> work) {
        pid_t pid = vm_->process->pid();
        ::kill(pid, SIGSTOP);
        auto future = boost::asio::co_spawn(io_, std::move(work), boost::asio::use_future);
        io_.restart();
        EXPECT_TRUE(waitQueued(vm_->paths.qmpSocket, dir_.path(), [&] { io_.poll(); }));
        auto killed = Clock::now();
        vm_->process->kill(SIGKILL);
        auto deadline = killed + 10s;
        while (future.wait_for(0s) != std::future_status::ready && Clock::now() < deadline)
            io_.run_one_for(100ms);
        EXPECT_EQ(future.wait_for(0s), std::future_status::ready) << "still pending after 10 s";
        auto took = Clock::now() - killed;
        ::waitpid(pid, nullptr, 0);
        vm_->process.reset();
        return {future.get(), took};
    }
};

TEST_F(HotplugFaults, QemuKilledMidAttachFailsPromptlyAndLeaksNothing) {
    int fds = fdsBeforeVm();
    startBare(MachineType::Q35, 2);
    auto disk = image("data.img");
    auto [result, took] =
        killQemuDuring(hotplug_->attach(device("disk", "data", {{"path", disk.string()}})));
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().kind, Errc::Disconnected) << result.error().message;
    EXPECT_LT(took, 3s);
    printTook(took);
    EXPECT_EQ(hotplug_->slots().used(), 0u);
    EXPECT_TRUE(hotplug_->devices().empty());
    vm_->qmp->close();
    EXPECT_EQ(openFdCount(), fds);
}

TEST_F(HotplugFaults, QemuKilledMidDetachFailsPromptlyAndLeaksNothing) {
    int fds = fdsBeforeVm();
    startBare(MachineType::Pc, 0);
    ASSERT_TRUE(attachDisk("data", image("data.img")));
    std::string id = "data";
    // No guest OS: the detach waits for DEVICE_DELETED until qemu dies.
    auto [result, took] = killQemuDuring(hotplug_->detach(id, 30s));
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().kind, Errc::Disconnected) << result.error().message;
    EXPECT_LT(took, 3s);
    printTook(took);
    // Not freed: qemu never confirmed the unplug. The bookkeeping dies with this qemu.
    EXPECT_EQ(hotplug_->devices().size(), 1u);
    vm_->qmp->close();
    EXPECT_EQ(openFdCount(), fds);
}

// QemuVm drops its Hotplug when qemu exits, possibly while an attach is suspended in it: the
// attach must still end cleanly (under ASan: no use after free).
TEST_F(HotplugFaults, HotplugDestroyedMidAttachStillEndsCleanly) {
    startBare(MachineType::Pc, 0);
    auto disk = image("data.img");
    auto work = hotplug_->attach(device("disk", "data", {{"path", disk.string()}}));
    hotplug_.reset();
    auto [result, took] = killQemuDuring(std::move(work));
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().kind, Errc::Disconnected) << result.error().message;
    EXPECT_LT(took, 3s);
    printTook(took);
}

// What an interrupted attach or detach can leave, made directly over QMP: recover() adopts the
// complete device, forgets the recorded one qemu no longer has, deletes the orphans, and the
// same ids can be attached again.
TEST_F(HotplugFaults, RecoverRemovesLeftoversAndAdoptsCompleteDevices) {
    startBare(MachineType::Q35, 3);
    auto run = [&](const std::string& json) {
        auto reply = runAsync(io_, [&](any_io_executor) { return executeJson(vm_->qmp, json); });
        ASSERT_TRUE(reply) << json << ": " << reply.error().message;
    };
    auto img = image("x.img").string();
    // Interrupted between blockdev-add and device_add.
    run(R"({"execute":"blockdev-add","arguments":{"driver":"file","node-name":"half-file",)"
        R"("filename":")" +
        img + R"("}})");
    run(R"({"execute":"blockdev-add","arguments":{"driver":"raw","node-name":"half-format",)"
        R"("file":"half-file"}})");
    // Interrupted between netdev_add and device_add.
    run(R"({"execute":"netdev_add","arguments":{"type":"user","id":"nic0-netdev"}})");
    // Interrupted after device_add, before state.json was written.
    run(R"({"execute":"blockdev-add","arguments":{"driver":"file","node-name":"full-file",)"
        R"("filename":")" +
        img + R"("}})");
    run(R"({"execute":"blockdev-add","arguments":{"driver":"raw","node-name":"full-format",)"
        R"("file":"full-file"}})");
    run(R"({"execute":"device_add","arguments":{"driver":"virtio-blk-pci","id":"full",)"
        R"("drive":"full-format","bus":"corral-rp1"}})");

    hotplug_ = std::make_unique<Hotplug>(vm_->qmp, vm_->plan, vm_->spec.name);
    // state.json recorded "gone", which the guest released while nobody listened.
    hotplug_->restore({{"gone", hypervisor::findKind("nic"), {"corral-rp2", 0}, true}});
    auto reconciled = runAsync(io_, [&](any_io_executor) { return hotplug_->reconcile(); });
    ASSERT_TRUE(reconciled) << reconciled.error().message;
    auto began = Clock::now();
    auto recovered = runAsync(io_, [&](any_io_executor) { return hotplug_->recover(); });
    std::printf(
        "[ figures ] recover() with 1 adoption, 1 drop, 3 deletions: %lld us\n",
        static_cast<long long>(
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - began).count()));
    ASSERT_TRUE(recovered) << recovered.error().message;

    EXPECT_THAT(recovered->adopted, ::testing::ElementsAre("full"));
    EXPECT_THAT(recovered->dropped, ::testing::ElementsAre("gone"));
    EXPECT_THAT(recovered->removed,
                ::testing::UnorderedElementsAre("block node half-format", "block node half-file",
                                                "netdev nic0-netdev"));
    auto devices = hotplug_->devices();
    ASSERT_EQ(devices.size(), 1u);
    EXPECT_EQ(devices[0].id, "full");
    EXPECT_EQ(devices[0].kindName(), "disk");
    EXPECT_EQ(devices[0].slot.toString(), "corral-rp1:00.0");
    auto after = state();
    EXPECT_THAT(after, Not(HasSubstr("half-")));
    EXPECT_THAT(after, HasSubstr("full-format"));

    // Nothing blocks the admin: the interrupted ids attach again, into the free slots.
    auto again = attachDisk("half", image("y.img"));
    ASSERT_TRUE(again) << again.error().message;
    auto nic = attachNic("nic0");
    ASSERT_TRUE(nic) << nic.error().message;
    auto full = attachDisk("full", image("z.img"));
    ASSERT_FALSE(full);
    EXPECT_EQ(full.error().kind, Errc::DeviceExists);
}

// A corrald (here: a QMP client) that dies after qemu ran netdev_add for it but before it read
// the reply: a new client's recover() deletes the orphan netdev and the same id attaches.
TEST_F(HotplugFaults, ClientGoneAfterQemuRanAStepLeavesNothingThatBlocksTheId) {
    startBare(MachineType::Pc, 0);
    pid_t pid = vm_->process->pid();
    ::kill(pid, SIGSTOP);
    auto interrupted = boost::asio::co_spawn(io_, hotplug_->attach(device("nic", "nic0")),
                                             boost::asio::use_future);
    io_.restart();
    ASSERT_TRUE(waitQueued(vm_->paths.qmpSocket, dir_.path(), [&] { io_.poll(); }));
    // qemu runs the command; its reply waits unread because io_ is not run meanwhile.
    ::kill(pid, SIGCONT);
    ASSERT_TRUE(waitReplied(vm_->paths.qmpSocket, dir_.path()));
    vm_->qmp->close();
    auto deadline = Clock::now() + 5s;
    while (interrupted.wait_for(0s) != std::future_status::ready && Clock::now() < deadline)
        io_.run_one_for(100ms);
    ASSERT_EQ(interrupted.wait_for(0s), std::future_status::ready);
    EXPECT_FALSE(interrupted.get());

    vm_->qmp = monitor::QmpClient::create(io_.get_executor());
    auto connected = runAsync(io_, [&](any_io_executor) {
        return vm_->qmp->connect(vm_->paths.qmpSocket.string(), 10s);
    });
    ASSERT_TRUE(connected) << connected.error().message;
    hotplug_ = std::make_unique<Hotplug>(vm_->qmp, vm_->plan, vm_->spec.name);
    ASSERT_TRUE(runAsync(io_, [&](any_io_executor) { return hotplug_->reconcile(); }));
    auto recovered = runAsync(io_, [&](any_io_executor) { return hotplug_->recover(); });
    ASSERT_TRUE(recovered) << recovered.error().message;
    EXPECT_THAT(recovered->removed, ::testing::ElementsAre("netdev nic0-netdev"));
    auto nic = attachNic("nic0");
    EXPECT_TRUE(nic) << nic.error().message;
}

// ---- daemon level: corrald on a private bus ----

class DaemonHotplugFaults : public CorraldFixture {
  protected:
    // A pc VM without a kernel: qemu runs, no guest OS ever answers an unplug.
    void writeBare(const std::string& name, const std::string& onCrash) {
        // The BIOS finds nothing bootable on the blank root disk and waits.
        auto root = image(name + "-root.img").string();
        writeFile(name + ".toml",
                  "[machine]\ntype = \"pc\"\naccel = \"tcg\"\nmemory = \"128M\"\n"
                  "[[disk]]\nid = \"root\"\npath = \"" +
                      root + "\"\n[lifecycle]\non_crash = \"" + onCrash + "\"\n");
    }

    std::filesystem::path qmpSocket(const std::string& name) {
        return hypervisor::RuntimePaths::forInstance(dir_ / "run", name).qmpSocket;
    }

    std::filesystem::path image(const std::string& name) {
        auto path = dir_ / name;
        std::ofstream(path).close();
        std::filesystem::resize_file(path, 8 << 20);
        return path;
    }

    // busctl call in the background (the reply comes after a fault).
    Process callAsync(const std::string& name, const std::string& method,
                      std::vector<std::string> args, const std::filesystem::path& log) {
        std::vector<std::string> argv = {
            "busctl", "--address",   address_,   "--timeout=60",         "--",
            "call",   "org.corral1", path(name), "org.corral1.Instance", method};
        argv.insert(argv.end(), args.begin(), args.end());
        return Process::spawn(argv, log);
    }

    std::string monitor(const std::string& name, const std::string& json) {
        return call(name, "Monitor", {"s", json}).output;
    }

    // qemu processes whose command line names `name`'s runtime dir.
    int qemuCount(const std::string& name) {
        auto needle = (dir_ / "run" / name).string();
        int count = 0;
        for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
            std::ifstream in(entry.path() / "cmdline");
            std::string cmdline((std::istreambuf_iterator<char>(in)), {});
            if (cmdline.rfind("qemu-system", 0) == 0 && cmdline.find(needle) != std::string::npos)
                ++count;
        }
        return count;
    }

    // For AttachDisk d1 then AttachNic n1 on a paused VM (qemu keeps an unused fdset across a
    // monitor disconnect only then): qemu SIGSTOPped, the call made, corrald SIGKILLed with the
    // first step (add-fd, netdev_add) queued. If `qemuRunsIt`, corrald is SIGSTOPped first and
    // qemu resumed until its reply waits, so the step surely ran; else qemu resumes after the
    // kill and runs or drops it. Then: corrald restarted, VM adopted, the id attaches.
    void interruptedAttachesThenTheIdsAttach(bool qemuRunsIt) {
        writeBare("vm1", "stop");
        startCorrald();
        ASSERT_EQ(call("vm1", "Start").status, 0) << corraldLog();
        ASSERT_EQ(call("vm1", "Pause").status, 0) << corraldLog();
        pid_t qemu = pid("vm1");
        auto disk = image("d1.img").string();
        std::vector<std::string> recorded;
        for (const std::string method : {"AttachDisk", "AttachNic"}) {
            SCOPED_TRACE(method);
            auto args = method == "AttachDisk"
                            ? std::vector<std::string>{"ssa{sv}", "d1", disk, "0"}
                            : std::vector<std::string>{"sa{sv}", "n1", "0"};
            ::kill(qemu, SIGSTOP);
            auto attach = callAsync("vm1", method, args, dir_ / "a.out");
            ASSERT_TRUE(waitQueued(qmpSocket("vm1"), dir_.path())) << corraldLog();
            if (qemuRunsIt) {
                ::kill(corrald_.pid(), SIGSTOP);
                ::kill(qemu, SIGCONT);
                ASSERT_TRUE(waitReplied(qmpSocket("vm1"), dir_.path()));
            }
            killCorrald();
            ::kill(qemu, SIGCONT);
            attach.wait(10s);
            startCorrald();

            EXPECT_EQ(property("vm1", "State"), "s \"paused\"");
            EXPECT_EQ(pid("vm1"), qemu);
            EXPECT_EQ(qemuCount("vm1"), 1);
            expectStateLists("vm1", recorded);
            // No half-built d1 or n1 (d1 is complete and recorded in the NIC round).
            if (recorded.empty()) {
                EXPECT_THAT(monitor("vm1", R"({"execute":"query-named-block-nodes"})"),
                            Not(HasSubstr("d1-f")));
            }
            auto network = monitor("vm1", R"({"execute":"human-monitor-command",)"
                                          R"("arguments":{"command-line":"info network"}})");
            EXPECT_THAT(network, Not(HasSubstr("n1-netdev")));

            auto again = call("vm1", method, args);
            EXPECT_EQ(again.status, 0) << again.output << corraldLog();
            recorded.push_back(args[1]);
        }
        EXPECT_THAT(property("vm1", "Devices"), HasSubstr("\"d1\" \"disk\""));
        EXPECT_THAT(property("vm1", "Devices"), HasSubstr("\"n1\" \"nic\""));
        expectStateLists("vm1", {"d1", "n1"});
    }

    // state.json parses, and lists exactly the hotplugged ids `expected`.
    void expectStateLists(const std::string& name, const std::vector<std::string>& expected) {
        std::string problem;
        auto state = hypervisor::readState(
            hypervisor::RuntimePaths::forInstance(dir_ / "run", name), problem);
        ASSERT_TRUE(state) << problem;
        std::vector<std::string> ids;
        for (const auto& d : state->devices)
            if (d.hotplugged) ids.push_back(d.id);
        EXPECT_EQ(ids, expected);
    }
};

TEST_F(DaemonHotplugFaults, QemuKilledMidAttachFailsTheCallAndStartWorksAgain) {
    writeBare("vm1", "stop");
    startCorrald();
    ASSERT_EQ(call("vm1", "Start").status, 0) << corraldLog();
    pid_t qemu = pid("vm1");
    int fds = openFdsOf(corrald_.pid());
    auto disk = image("d1.img").string();

    ::kill(qemu, SIGSTOP);
    auto attach = callAsync("vm1", "AttachDisk", {"ssa{sv}", "d1", disk, "0"}, dir_ / "a.out");
    ASSERT_TRUE(waitQueued(qmpSocket("vm1"), dir_.path())) << corraldLog();
    auto killed = Clock::now();
    ::kill(qemu, SIGKILL);
    auto status = attach.wait(10s);
    auto took = Clock::now() - killed;
    ASSERT_TRUE(status);
    EXPECT_NE(WEXITSTATUS(*status), 0);
    EXPECT_LT(took, 3s);
    printTook(took);
    EXPECT_THAT(readFile(dir_ / "a.out"), HasSubstr("monitor closed during the call"));

    EXPECT_TRUE(waitProperty("vm1", "State", "s \"crashed\"", 10s)) << property("vm1", "State");
    EXPECT_THAT(property("vm1", "Devices"), Not(HasSubstr("d1")));

    ASSERT_EQ(call("vm1", "Start").status, 0) << corraldLog();
    EXPECT_EQ(openFdsOf(corrald_.pid()), fds);
    auto again = call("vm1", "AttachDisk", {"ssa{sv}", "d1", disk, "0"});
    EXPECT_EQ(again.status, 0) << again.output;
    EXPECT_THAT(property("vm1", "Devices"), HasSubstr("\"d1\" \"disk\""));
    expectStateLists("vm1", {"d1"});
}

TEST_F(DaemonHotplugFaults, QemuKilledMidDetachRestartsPerPolicy) {
    writeBare("vm1", "restart");
    startCorrald();
    ASSERT_EQ(call("vm1", "Start").status, 0) << corraldLog();
    auto disk = image("d1.img").string();
    ASSERT_EQ(call("vm1", "AttachDisk", {"ssa{sv}", "d1", disk, "0"}).status, 0);
    pid_t qemu = pid("vm1");
    int fds = openFdsOf(corrald_.pid());

    ::kill(qemu, SIGSTOP);
    auto detach = callAsync("vm1", "Detach", {"s", "d1"}, dir_ / "d.out");
    ASSERT_TRUE(waitQueued(qmpSocket("vm1"), dir_.path())) << corraldLog();
    auto killed = Clock::now();
    ::kill(qemu, SIGKILL);
    auto status = detach.wait(10s);
    auto took = Clock::now() - killed;
    EXPECT_LT(took, 3s);
    printTook(took);
    ASSERT_TRUE(status);
    EXPECT_NE(WEXITSTATUS(*status), 0);

    // on_crash = restart: a new qemu, with the boot-time devices only.
    auto deadline = Clock::now() + 15s;
    while ((pid("vm1") == 0 || pid("vm1") == qemu) && Clock::now() < deadline)
        std::this_thread::sleep_for(20ms);
    ASSERT_TRUE(waitProperty("vm1", "State", "s \"running\"", 15s)) << corraldLog();
    EXPECT_NE(pid("vm1"), qemu);
    EXPECT_EQ(qemuCount("vm1"), 1);
    EXPECT_THAT(property("vm1", "Devices"), Not(HasSubstr("d1")));
    EXPECT_EQ(openFdsOf(corrald_.pid()), fds);
    auto again = call("vm1", "AttachDisk", {"ssa{sv}", "d1", disk, "0"});
    EXPECT_EQ(again.status, 0) << again.output;
}

TEST_F(DaemonHotplugFaults, CorraldKilledWithTheFirstStepQueuedThenTheIdsAttach) {
    interruptedAttachesThenTheIdsAttach(false);
}

TEST_F(DaemonHotplugFaults, CorraldKilledAfterQemuRanTheFirstStepRemovesTheLeftovers) {
    interruptedAttachesThenTheIdsAttach(true);
    // Each interrupted attach left its first step in qemu; the restarted corrald removed it.
    EXPECT_THAT(readFile(dir_ / "corrald2.log"), HasSubstr("removed leftover fdset"));
    EXPECT_THAT(readFile(dir_ / "corrald3.log"), HasSubstr("removed leftover netdev n1-netdev"));
}

// corrald SIGKILLed after qemu ran device_del for a Detach: with no guest OS the unplug never
// completes, so the restarted corrald still lists the device, as qemu still has it.
TEST_F(DaemonHotplugFaults, CorraldKilledMidDetachListsWhatQemuStillHas) {
    writeBare("vm1", "stop");
    startCorrald();
    ASSERT_EQ(call("vm1", "Start").status, 0) << corraldLog();
    auto disk = image("d1.img").string();
    ASSERT_EQ(call("vm1", "AttachDisk", {"ssa{sv}", "d1", disk, "0"}).status, 0);
    pid_t qemu = pid("vm1");

    ::kill(qemu, SIGSTOP);
    auto detach = callAsync("vm1", "Detach", {"s", "d1"}, dir_ / "d.out");
    ASSERT_TRUE(waitQueued(qmpSocket("vm1"), dir_.path())) << corraldLog();
    ::kill(corrald_.pid(), SIGSTOP);
    ::kill(qemu, SIGCONT);
    ASSERT_TRUE(waitReplied(qmpSocket("vm1"), dir_.path()));
    killCorrald();
    detach.wait(10s);
    startCorrald();

    EXPECT_EQ(property("vm1", "State"), "s \"running\"");
    EXPECT_EQ(pid("vm1"), qemu);
    EXPECT_EQ(qemuCount("vm1"), 1);
    auto peripheral = monitor("vm1", R"({"execute":"qom-list",)"
                                     R"("arguments":{"path":"/machine/peripheral"}})");
    EXPECT_THAT(peripheral, HasSubstr("d1"));
    EXPECT_THAT(property("vm1", "Devices"), HasSubstr("\"d1\" \"disk\""));
    expectStateLists("vm1", {"d1"});
    auto duplicate = call("vm1", "AttachDisk", {"ssa{sv}", "d1", disk, "0"});
    EXPECT_THAT(duplicate.output, HasSubstr("already exists"));
}

// The states a kill between two attach steps leaves, made over the Monitor method: after a
// corrald restart the complete device is adopted (listed, in state.json, owned) and the orphan
// block nodes and netdev are gone, so their ids attach again.
TEST_F(DaemonHotplugFaults, CorraldRestartAdoptsCompleteDevicesAndRemovesOrphans) {
    writeBare("vm1", "stop");
    startCorrald();
    ASSERT_EQ(call("vm1", "Start").status, 0) << corraldLog();
    pid_t qemu = pid("vm1");
    // null-co: a confined qemu opens no path given at run time (only descriptors).
    auto img = image("x.img").string();
    for (const std::string& json :
         {std::string(R"({"execute":"blockdev-add","arguments":{"driver":"null-co",)"
                      R"("node-name":"half-file","size":1048576}})"),
          std::string(R"({"execute":"blockdev-add","arguments":{"driver":"raw",)"
                      R"("node-name":"half-format","file":"half-file"}})"),
          std::string(R"({"execute":"netdev_add","arguments":{"type":"user",)"
                      R"("id":"nic0-netdev"}})"),
          std::string(R"({"execute":"blockdev-add","arguments":{"driver":"null-co",)"
                      R"("node-name":"full-file","size":1048576}})"),
          std::string(R"({"execute":"blockdev-add","arguments":{"driver":"raw",)"
                      R"("node-name":"full-format","file":"full-file"}})"),
          std::string(R"({"execute":"device_add","arguments":{"driver":"virtio-blk-pci",)"
                      R"("id":"full","drive":"full-format"}})")}) {
        auto reply = call("vm1", "Monitor", {"s", json});
        ASSERT_EQ(reply.status, 0) << json << ": " << reply.output;
    }
    killCorrald();
    startCorrald();

    EXPECT_EQ(property("vm1", "State"), "s \"running\"");
    EXPECT_EQ(pid("vm1"), qemu);
    EXPECT_EQ(qemuCount("vm1"), 1);
    EXPECT_THAT(property("vm1", "Devices"), HasSubstr("\"full\" \"disk\" \"pci.0\""));
    expectStateLists("vm1", {"full"});
    auto nodes = monitor("vm1", R"({"execute":"query-named-block-nodes"})");
    EXPECT_THAT(nodes, Not(HasSubstr("half-")));
    EXPECT_THAT(nodes, HasSubstr("full-format"));
    EXPECT_THAT(corraldLog(), HasSubstr("disk full found in qemu at pci.0"));

    EXPECT_EQ(call("vm1", "AttachDisk", {"ssa{sv}", "half", image("h.img").string(), "0"}).status,
              0);
    EXPECT_EQ(call("vm1", "AttachNic", {"sa{sv}", "nic0", "0"}).status, 0);
    auto duplicate = call("vm1", "AttachDisk", {"ssa{sv}", "full", img, "0"});
    EXPECT_NE(duplicate.status, 0);
    EXPECT_THAT(duplicate.output, HasSubstr("already exists"));
}

}  // namespace
}  // namespace corral::test

// The argv of [machine]'s CPU keys and of the disk and NIC options that choose bus, driver,
// discard, AIO and iothreads. The guest tests check that the real qemu accepts them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "hypervisor/block_nodes.hpp"
#include "hypervisor/cpu_models.hpp"
#include "hypervisor/device_options.hpp"
#include "hypervisor/qemu_argv.hpp"
#include "hypervisor/qemu_argv_cpu.hpp"
#include "hypervisor/scsi_controller.hpp"
#include "monitor/json.hpp"

namespace corral::hypervisor {
namespace {

using Argv = std::vector<std::string>;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using ::testing::Not;

const RuntimePaths kPaths = RuntimePaths::forInstance("/run/corral", "vm1");

Device device(std::string_view kind, std::string id, Options options) {
    const auto& row = *findKind(kind);
    EXPECT_TRUE(completeOptions(row, options).empty()) << id;
    return makeDevice(row, std::move(id), std::move(options), "vm1");
}

InstanceSpec diskSpec(std::vector<Device> devices) {
    InstanceSpec spec;
    spec.name = "vm1";
    spec.machine.type = MachineType::Q35;
    spec.machine.accel = Accel::Tcg;
    spec.machine.hotplugSlots = 0;
    spec.agent.negotiator = false;
    spec.devices = std::move(devices);
    return spec;
}

// The argv from the first "-blockdev" / "-object" / "-device" on: what the devices add.
Argv deviceArgs(const InstanceSpec& spec) {
    auto argv = buildQemuArgv(spec, planSlots(spec), kPaths);
    auto first = std::find_if(argv.begin(), argv.end(), [](const std::string& word) {
        return word == "-blockdev" || word == "-object" || word == "-device" || word == "-netdev";
    });
    return Argv(first, argv.end());
}

TEST(CpuArgv, DefaultModelFollowsTheAccelerator) {
    MachineSpec machine;
    machine.cpus = 2;
    EXPECT_EQ(cpuArgs(machine, true), (Argv{"-cpu", "host", "-smp", "2"}));
    EXPECT_EQ(cpuArgs(machine, false), (Argv{"-cpu", "max", "-smp", "2"}));
    EXPECT_TRUE(runsUnderKvm(Accel::Kvm));
    EXPECT_FALSE(runsUnderKvm(Accel::Tcg));
}

TEST(CpuArgv, ModelFlagsAndTopology) {
    MachineSpec machine;
    machine.cpus = 4;
    machine.cpu.model = "Skylake-Client";
    machine.cpu.flags = {"+avx2", "-hle", "+tsc-deadline"};
    machine.cpu.sockets = 2;
    ASSERT_FALSE(completeTopology(machine.cpus, machine.cpu));
    EXPECT_EQ(cpuArgs(machine, false),
              (Argv{"-cpu", "Skylake-Client,avx2=on,hle=off,tsc-deadline=on", "-smp",
                    "cpus=4,sockets=2,cores=2,threads=1"}));
}

TEST(CpuTopology, CompletesAsQemuDoesAndRefusesWhatDoesNotAddUp) {
    auto complete = [](unsigned cpus, unsigned s, unsigned c, unsigned t) {
        CpuSpec cpu;
        cpu.sockets = s;
        cpu.cores = c;
        cpu.threads = t;
        auto why = completeTopology(cpus, cpu);
        return why ? *why
                   : std::to_string(cpu.sockets) + "/" + std::to_string(cpu.cores) + "/" +
                         std::to_string(cpu.threads);
    };
    EXPECT_EQ(complete(8, 0, 0, 2), "1/4/2");  // cores take what is left
    EXPECT_EQ(complete(8, 2, 0, 0), "2/4/1");
    EXPECT_EQ(complete(8, 0, 2, 0), "4/2/1");  // then sockets
    EXPECT_EQ(complete(8, 2, 2, 0), "2/2/2");  // threads last
    EXPECT_EQ(complete(8, 2, 2, 2), "2/2/2");
    EXPECT_EQ(complete(4, 0, 0, 0), "0/0/0");  // none given: plain -smp N
    EXPECT_EQ(complete(6, 2, 2, 2), "sockets * cores * threads = 2 * 2 * 2 = 8, but cpus = 6");
    EXPECT_EQ(complete(3, 2, 0, 0), "sockets * cores * threads = 2 * 1 * 1 = 2, but cpus = 3");
}

TEST(CpuSyntax, ModelsAndFlags) {
    EXPECT_TRUE(isCpuModelSyntax("Skylake-Client-v4"));
    EXPECT_TRUE(isCpuModelSyntax("qemu64"));
    EXPECT_FALSE(isCpuModelSyntax("max,+avx"));
    EXPECT_FALSE(isCpuModelSyntax(""));
    EXPECT_TRUE(isCpuFlagSyntax("+avx2"));
    EXPECT_TRUE(isCpuFlagSyntax("-vmx-ept"));
    EXPECT_TRUE(isCpuFlagSyntax("+sse4.2"));
    EXPECT_FALSE(isCpuFlagSyntax("avx2"));
    EXPECT_FALSE(isCpuFlagSyntax("+"));
    EXPECT_FALSE(isCpuFlagSyntax("+AVX"));
    EXPECT_FALSE(isCpuFlagSyntax("+a,b=on"));
}

TEST(CpuModels, ParsesCpuHelp) {
    EXPECT_THAT(parseCpuHelp("Available CPUs:\n"
                             "x86 486                   (alias configured by machine type)\n"
                             "x86 Skylake-Client-v1     Intel Core Processor (Skylake)\n"
                             "x86 max                   Enables all features\n"
                             "\nRecognized CPUID flags:\n  3dnow avx\n"),
                ElementsAre("486", "Skylake-Client-v1", "max"));
}

TEST(CpuModels, RealQemuListsItsModelsAndAnUnknownOneIsNamed) {
    std::string why;
    auto models = cpuModelsOf(kDefaultQemuBinary, why);
    if (!models) GTEST_SKIP() << kDefaultQemuBinary << " " << why;
    EXPECT_THAT(*models, IsSupersetOf({"qemu64", "max", "host", "Skylake-Client"}));
    EXPECT_FALSE(checkCpuModel("Skylake-Client", kDefaultQemuBinary));
    EXPECT_FALSE(checkCpuModel("host", kDefaultQemuBinary));
    auto unknown = checkCpuModel("Pentium-9000", kDefaultQemuBinary);
    ASSERT_TRUE(unknown);
    EXPECT_THAT(*unknown, HasSubstr("\"Pentium-9000\" is not offered by qemu-system-x86_64"));
    // A binary that cannot be asked does not block: starting it fails on its own.
    EXPECT_FALSE(checkCpuModel("Pentium-9000", "/nonexistent/qemu"));
}

TEST(DiskArgv, DiscardAioAndIothreadOfAVirtioDisk) {
    auto spec = diskSpec(
        {device("disk", "root",
                {{"path", "/d/root.img"},
                 {"discard", "unmap"},
                 {"aio", "io_uring"},
                 {"iothread", true}}),
         device("disk", "fast", {{"path", "/d/fast.img"}, {"cache", "none"}, {"aio", "native"}})});
    EXPECT_EQ(deviceArgs(spec),
              (Argv{"-object", "iothread,id=root-iothread", "-blockdev",
                    "driver=file,node-name=root-file,filename=/d/root.img,read-only=off,"
                    "aio=io_uring,discard=unmap",
                    "-blockdev",
                    "driver=raw,node-name=root-format,file=root-file,read-only=off,discard=unmap",
                    "-device",
                    "virtio-blk-pci,id=root,drive=root-format,iothread=root-iothread,bus=pcie.0,"
                    "addr=0x1,bootindex=1",
                    "-blockdev",
                    "driver=file,node-name=fast-file,filename=/d/fast.img,read-only=off,"
                    "cache.direct=on,aio=native",
                    "-blockdev", "driver=raw,node-name=fast-format,file=fast-file,read-only=off",
                    "-device", "virtio-blk-pci,id=fast,drive=fast-format,bus=pcie.0,addr=0x2"}));
}

TEST(DiskArgv, BlockDeviceTakesHostDevice) {
    auto disk = device("disk", "lv", {{"path", "/dev/vg0/lv,0"}, {"discard", "unmap"}});
    Argv argv;
    addBlockArgs(disk, DiskTarget::BlockDevice, argv);
    EXPECT_EQ(argv, (Argv{"-blockdev",
                          "driver=host_device,node-name=lv-file,filename=/dev/vg0/lv,,0,"
                          "read-only=off,discard=unmap",
                          "-blockdev",
                          "driver=raw,node-name=lv-format,file=lv-file,read-only=off,"
                          "discard=unmap"}));
    EXPECT_EQ(monitor::toJsonString(fileNodeArgs(disk, DiskTarget::BlockDevice, "/dev/fdset/3")),
              R"({"driver":"host_device","node-name":"lv-file","filename":"/dev/fdset/3",)"
              R"("read-only":false,"cache":{"direct":false,"no-flush":false},)"
              R"("discard":"unmap"})");
    EXPECT_EQ(monitor::toJsonString(formatNodeArgs(disk)),
              R"({"driver":"raw","node-name":"lv-format","file":"lv-file","read-only":false,)"
              R"("discard":"unmap"})");
    auto aio = device("disk", "a", {{"path", "/a"}, {"aio", "io_uring"}});
    EXPECT_THAT(monitor::toJsonString(fileNodeArgs(aio, DiskTarget::File, "/dev/fdset/4")),
                HasSubstr(R"("driver":"file")"));
    EXPECT_THAT(monitor::toJsonString(fileNodeArgs(aio, DiskTarget::File, "/dev/fdset/4")),
                HasSubstr(R"("aio":"io_uring")"));
}

TEST(DiskArgv, WhatAPathIs) {
    std::string why;
    EXPECT_EQ(diskTargetOf("/dev/null", why), std::nullopt);
    EXPECT_EQ(why, "is a character device, not a disk image or block device");
    EXPECT_EQ(diskTargetOf("/", why), std::nullopt);
    EXPECT_EQ(why, "is a directory");
    EXPECT_EQ(diskTargetOf("/proc/self/exe", why), DiskTarget::File);
    EXPECT_EQ(diskTarget(S_IFBLK | 0660, why), DiskTarget::BlockDevice);
    EXPECT_EQ(protocolDriver(DiskTarget::BlockDevice), "host_device");
    EXPECT_EQ(protocolDriver(DiskTarget::File), "file");
    // At launch a character device as a disk names the disk; a path that is gone is left to
    // qemu, which names it.
    auto spec = diskSpec({device("disk", "bad", {{"path", "/dev/null"}})});
    EXPECT_THROW(buildQemuArgv(spec, planSlots(spec), kPaths), std::runtime_error);
}

TEST(DiskArgv, ScsiDisksSitOnOneControllerWithItsIothread) {
    auto spec = diskSpec(
        {device("disk", "root", {{"path", "/d/root.img"}}),
         device("disk", "s0", {{"path", "/d/s0.img"}, {"bus", "scsi"}}),
         device("disk", "s1", {{"path", "/d/s1.img"}, {"bus", "scsi"}, {"iothread", true}})});
    auto plan = planSlots(spec);
    ASSERT_TRUE(plan.find("corral-scsi"));
    EXPECT_EQ(plan.find("corral-scsi")->toString(), "pcie.0:01.0");
    EXPECT_EQ(plan.find("root")->toString(), "pcie.0:02.0");
    EXPECT_EQ(plan.find("s1")->bus, "corral-scsi.0");
    EXPECT_EQ(plan.find("s1")->slot, 1u);
    EXPECT_EQ(deviceArgs(spec),
              (Argv{"-object",
                    "iothread,id=corral-scsi-iothread",
                    "-device",
                    "virtio-scsi-pci,id=corral-scsi,iothread=corral-scsi-iothread,bus=pcie.0,"
                    "addr=0x1",
                    "-blockdev",
                    "driver=file,node-name=root-file,filename=/d/root.img,read-only=off",
                    "-blockdev",
                    "driver=raw,node-name=root-format,file=root-file,read-only=off",
                    "-device",
                    "virtio-blk-pci,id=root,drive=root-format,bus=pcie.0,addr=0x2,bootindex=1",
                    "-blockdev",
                    "driver=file,node-name=s0-file,filename=/d/s0.img,read-only=off",
                    "-blockdev",
                    "driver=raw,node-name=s0-format,file=s0-file,read-only=off",
                    "-device",
                    "scsi-hd,id=s0,drive=s0-format,bus=corral-scsi.0,scsi-id=0,lun=0",
                    "-blockdev",
                    "driver=file,node-name=s1-file,filename=/d/s1.img,read-only=off",
                    "-blockdev",
                    "driver=raw,node-name=s1-format,file=s1-file,read-only=off",
                    "-device",
                    "scsi-hd,id=s1,drive=s1-format,bus=corral-scsi.0,scsi-id=1,lun=0"}));
}

TEST(DiskArgv, NoScsiDiskNoController) {
    auto spec = diskSpec({device("disk", "root", {{"path", "/d/root.img"}})});
    EXPECT_FALSE(planSlots(spec).find("corral-scsi"));
    EXPECT_FALSE(scsiControllerFor(spec.devices));
    Device a = device("disk", "a", {{"path", "/a"}, {"bus", "scsi"}});
    a.slot = {"corral-scsi.0", 0};
    Device b = device("disk", "b", {{"path", "/b"}, {"bus", "scsi"}});
    b.slot = {"corral-scsi.0", 2};
    Device pci = device("disk", "c", {{"path", "/c"}});
    pci.slot = {"pcie.0", 1};
    EXPECT_EQ(freeScsiId({&a, &b, &pci}), 1u);
}

TEST(DiskOptions, NativeAioNeedsCacheNone) {
    const auto& disk = *findKind("disk");
    Options options = {{"path", "/d.img"}, {"aio", "native"}};
    auto problems = completeOptions(disk, options);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].what, OptionProblem::What::Conflict);
    EXPECT_EQ(problems[0].option->key, "aio");
    EXPECT_THAT(problems[0].reason, HasSubstr("needs cache \"none\""));
    EXPECT_THAT(problems[0].reason, HasSubstr("cache is \"writeback\""));
    Options direct = {{"path", "/d.img"}, {"aio", "native"}, {"cache", "none"}};
    EXPECT_TRUE(completeOptions(disk, direct).empty());
}

TEST(NicArgv, E1000eModelIsItsDriver) {
    auto spec = diskSpec({device("nic", "lan", {{"model", "e1000e"}, {"mac", "52:54:00:00:00:01"}}),
                          device("nic", "v", {{"mac", "52:54:00:00:00:02"}})});
    spec.boot = BootSpec{"/k", "", ""};
    EXPECT_EQ(deviceArgs(spec),
              (Argv{"-netdev", "user,id=lan-netdev", "-device",
                    "e1000e,id=lan,netdev=lan-netdev,mac=52:54:00:00:00:01,bus=pcie.0,addr=0x1",
                    "-netdev", "user,id=v-netdev", "-device",
                    "virtio-net-pci,id=v,netdev=v-netdev,mac=52:54:00:00:00:02,bus=pcie.0,"
                    "addr=0x2"}));
    EXPECT_EQ(spec.devices[0].driver(), "e1000e");
    EXPECT_EQ(spec.devices[1].driver(), "virtio-net-pci");
}

}  // namespace
}  // namespace corral::hypervisor

// Golden command lines. The integration test checks that real qemu accepts them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "hypervisor/device_options.hpp"
#include "hypervisor/qemu_argv.hpp"

namespace corral::hypervisor {
namespace {

using Argv = std::vector<std::string>;

const RuntimePaths kPaths = RuntimePaths::forInstance("/run/corral", "vm1");

Argv common(const std::string& machine) {
    return {"qemu-system-x86_64",
            "-name",
            "guest=vm1,debug-threads=on",
            "-uuid",
            "8985fc12-7bd3-5da3-be5d-31a56e0d4b9c",  // derived from "vm1"
            "-machine",
            machine,
            "-cpu",
            "max",  // TCG's default model
            "-smp",
            "2",
            "-m",
            "1024M",
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            "-S",
            "-msg",
            "timestamp=on",
            "-pidfile",
            "/run/corral/vm1/qemu.pid",
            "-chardev",
            "socket,id=corral-qmp,path=/run/corral/vm1/qmp.sock,server=on,wait=off",
            "-mon",
            "chardev=corral-qmp,mode=control",
            "-chardev",
            "socket,id=corral-serial,path=/run/corral/vm1/serial.sock,server=on,wait=off",
            "-serial",
            "chardev:corral-serial"};
}

Argv agent(const std::string& bus, const std::string& addr) {
    return {"-device",
            "virtio-serial-pci,id=corral-vserial,bus=" + bus + ",addr=" + addr,
            "-chardev",
            "socket,id=corral-h2g,path=/run/corral/vm1/"
            "negotiator-host-to-guest.0.sock,server=on,wait=off",
            "-device",
            "virtserialport,bus=corral-vserial.0,chardev=corral-h2g,"
            "name=negotiator-host-to-guest.0",
            "-chardev",
            "socket,id=corral-g2h,path=/run/corral/vm1/"
            "negotiator-guest-to-host.0.sock,server=on,wait=off",
            "-device",
            "virtserialport,bus=corral-vserial.0,chardev=corral-g2h,"
            "name=negotiator-guest-to-host.0"};
}

// A device of `kind` as the loader makes it: the given options, the defaults, derived values.
Device device(std::string_view kind, std::string id, Options options) {
    const auto& row = *findKind(kind);
    EXPECT_TRUE(completeOptions(row, options).empty()) << id;
    return makeDevice(row, std::move(id), std::move(options), "vm1");
}

InstanceSpec baseSpec(MachineType type) {
    InstanceSpec spec;
    spec.name = "vm1";
    spec.machine.type = type;
    spec.machine.accel = Accel::Tcg;
    spec.machine.cpus = 2;
    spec.machine.memoryBytes = 1ull << 30;
    return spec;
}

Argv concat(std::initializer_list<Argv> parts) {
    Argv out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

TEST(QemuArgv, PcKernelBootWithAgent) {
    auto spec = baseSpec(MachineType::Pc);
    spec.boot = BootSpec{"/boot/vmlinuz", "/boot/initrd.img", "console=ttyS0"};
    auto argv = buildQemuArgv(spec, planSlots(spec), kPaths);
    EXPECT_EQ(argv, concat({common("pc,accel=tcg"),
                            agent("pci.0", "0x2"),
                            {"-kernel", "/boot/vmlinuz", "-initrd", "/boot/initrd.img", "-append",
                             "console=ttyS0"}}));
}

TEST(QemuArgv, Q35HasRootPortsForHotplug) {
    auto spec = baseSpec(MachineType::Q35);
    spec.machine.hotplugSlots = 2;
    spec.boot = BootSpec{"/boot/vmlinuz", "", ""};
    auto argv = buildQemuArgv(spec, planSlots(spec), kPaths);
    EXPECT_EQ(
        argv,
        concat({common("q35,accel=tcg"),
                agent("pcie.0", "0x1"),
                {"-kernel", "/boot/vmlinuz", "-device",
                 "pcie-root-port,id=corral-rp0,bus=pcie.0,addr=0x2,chassis=1,port=16", "-device",
                 "pcie-root-port,id=corral-rp1,bus=pcie.0,addr=0x3,chassis=2,port=17"}}));
}

TEST(QemuArgv, BootFromDiskWithEscapedPathAndCacheModes) {
    auto spec = baseSpec(MachineType::Pc);
    spec.agent.negotiator = false;
    spec.devices = {
        device("disk", "root", {{"path", "/d/a,b.qcow2"}, {"format", "qcow2"}, {"cache", "none"}}),
        device("disk", "data", {{"path", "/d/data.img"}, {"readonly", true}, {"cache", "unsafe"}})};
    auto argv = buildQemuArgv(spec, planSlots(spec), kPaths);
    EXPECT_EQ(argv,
              concat({common("pc,accel=tcg"),
                      {"-blockdev",
                       "driver=file,node-name=root-file,filename=/d/a,,b.qcow2,read-only=off,"
                       "cache.direct=on",
                       "-blockdev",
                       "driver=qcow2,node-name=root-format,file=root-file,read-only=off", "-device",
                       "virtio-blk-pci,id=root,drive=root-format,bus=pci.0,addr=0x2,bootindex=1",
                       "-blockdev",
                       "driver=file,node-name=data-file,filename=/d/data.img,read-only=on,"
                       "cache.no-flush=on",
                       "-blockdev", "driver=raw,node-name=data-format,file=data-file,read-only=on",
                       "-device", "virtio-blk-pci,id=data,drive=data-format,bus=pci.0,addr=0x3"}}));
}

TEST(QemuArgv, NicsUseTapFdsInOrderAndUserMode) {
    auto spec = baseSpec(MachineType::Q35);
    spec.machine.hotplugSlots = 0;
    spec.agent.negotiator = false;
    spec.boot = BootSpec{"/k", "", ""};
    spec.devices = {
        device("nic", "lan", {{"mode", "bridge"}, {"bridge", "br0"}, {"mac", "52:54:00:00:00:01"}}),
        device("nic", "slirp", {{"mac", "52:54:00:00:00:02"}}),
        device("nic", "back", {{"mode", "tap"}, {"mac", "52:54:00:00:00:03"}})};
    auto argv = buildQemuArgv(spec, planSlots(spec), kPaths);
    EXPECT_EQ(argv, concat({common("q35,accel=tcg"),
                            {"-kernel", "/k", "-netdev", "tap,id=lan-netdev,fd=3", "-device",
                             "virtio-net-pci,id=lan,netdev=lan-netdev,mac=52:54:00:00:00:01,"
                             "bus=pcie.0,addr=0x1",
                             "-netdev", "user,id=slirp-netdev", "-device",
                             "virtio-net-pci,id=slirp,netdev=slirp-netdev,"
                             "mac=52:54:00:00:00:02,bus=pcie.0,addr=0x2",
                             "-netdev", "tap,id=back-netdev,fd=4", "-device",
                             "virtio-net-pci,id=back,netdev=back-netdev,"
                             "mac=52:54:00:00:00:03,bus=pcie.0,addr=0x3"}}));
}

TEST(QemuArgv, RngIsAnRngRandomObjectAndItsDevice) {
    auto spec = baseSpec(MachineType::Pc);
    spec.agent.negotiator = false;
    spec.boot = BootSpec{"/k", "", ""};
    spec.devices = {device("rng", "entropy", {}),
                    device("rng", "hw", {{"backend", "/dev/hw,rng"}})};
    auto argv = buildQemuArgv(spec, planSlots(spec), kPaths);
    EXPECT_EQ(argv, concat({common("pc,accel=tcg"),
                            {"-kernel", "/k", "-object",
                             "rng-random,id=entropy-rng,filename=/dev/urandom", "-device",
                             "virtio-rng-pci,id=entropy,rng=entropy-rng,bus=pci.0,addr=0x2",
                             "-object", "rng-random,id=hw-rng,filename=/dev/hw,,rng", "-device",
                             "virtio-rng-pci,id=hw,rng=hw-rng,bus=pci.0,addr=0x3"}}));
}

TEST(RuntimePaths, FollowsDesignAndRefusesBadNames) {
    EXPECT_EQ(kPaths.dir, "/run/corral/vm1");
    EXPECT_EQ(kPaths.qmpSocket, "/run/corral/vm1/qmp.sock");
    EXPECT_EQ(kPaths.negotiatorHostToGuest, "/run/corral/vm1/negotiator-host-to-guest.0.sock");
    EXPECT_EQ(kPaths.negotiatorGuestToHost, "/run/corral/vm1/negotiator-guest-to-host.0.sock");
    EXPECT_EQ(kPaths.stateFile, "/run/corral/vm1/state.json");
    EXPECT_EQ(kPaths.logFile, "/run/corral/vm1/qemu.log");
    EXPECT_THROW(RuntimePaths::forInstance("/run/corral", "../etc"), std::invalid_argument);
}

}  // namespace
}  // namespace corral::hypervisor

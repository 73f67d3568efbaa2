// CD-ROMs and sata disks on the IDE/AHCI ports, [firmware] and [boot] order: the port
// allocation, the argv pieces and the loader's diagnostics at line:column.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "hypervisor/boot_order.hpp"
#include "hypervisor/device_options.hpp"
#include "hypervisor/firmware.hpp"
#include "hypervisor/ide_ports.hpp"
#include "hypervisor/qemu_argv.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::hypervisor {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Argv = std::vector<std::string>;

Device make(std::string_view kind, std::string id, Options options = {}) {
    const auto& row = *findKind(kind);
    EXPECT_TRUE(completeOptions(row, options).empty()) << id;
    return makeDevice(row, std::move(id), std::move(options), "vm1");
}

InstanceSpec machine(MachineType type) {
    InstanceSpec spec;
    spec.name = "vm1";
    spec.machine.type = type;
    spec.machine.accel = Accel::Tcg;
    spec.machine.hotplugSlots = 0;
    spec.agent.negotiator = false;
    return spec;
}

Argv argvOf(const InstanceSpec& spec) {
    return buildQemuArgv(spec, planSlots(spec), RuntimePaths::forInstance("/run/corral", "vm1"));
}

// The words of `argv` from the first "-device"/"-blockdev" on: what the devices added.
Argv devicePart(const Argv& argv) {
    for (std::size_t i = 0; i < argv.size(); ++i)
        if (argv[i] == "-device" || argv[i] == "-blockdev")
            return Argv(argv.begin() + i, argv.end());
    return {};
}

TEST(IdePorts, PcHasFourPortsOnTwoChannelsQ35SixAhciPorts) {
    auto pc = idePorts(MachineType::Pc);
    ASSERT_EQ(pc.size(), 4u);
    EXPECT_EQ(pc[0], (PciSlot{"ide.0", 0}));
    EXPECT_EQ(pc[1], (PciSlot{"ide.0", 1}));
    EXPECT_EQ(pc[3], (PciSlot{"ide.1", 1}));
    auto q35 = idePorts(MachineType::Q35);
    ASSERT_EQ(q35.size(), 6u);
    EXPECT_EQ(q35[5], (PciSlot{"ide.5", 0}));
}

TEST(IdePorts, CdromsAndSataDisksShareThePortsInDefinitionOrder) {
    std::vector<Device> devices = {make("disk", "root", {{"path", "/d/r.img"}, {"bus", "sata"}}),
                                   make("disk", "fast", {{"path", "/d/f.img"}}),
                                   make("cdrom", "cd0", {{"path", "/iso/a.iso"}}),
                                   make("cdrom", "cd1")};
    auto ports = assignIdePorts(MachineType::Pc, devices);
    ASSERT_EQ(ports.size(), 3u);
    EXPECT_EQ(ports[0], (std::pair<std::string, PciSlot>{"root", {"ide.0", 0}}));
    EXPECT_EQ(ports[1], (std::pair<std::string, PciSlot>{"cd0", {"ide.0", 1}}));
    EXPECT_EQ(ports[2], (std::pair<std::string, PciSlot>{"cd1", {"ide.1", 0}}));
    EXPECT_FALSE(usesIdePort(devices[1]));
    EXPECT_EQ(devices[0].driver(), "ide-hd");
    EXPECT_EQ(devices[1].driver(), "virtio-blk-pci");
    EXPECT_EQ(devices[2].driver(), "ide-cd");
}

TEST(IdePorts, MorePortsThanTheControllerHasIsRefused) {
    std::vector<Device> devices;
    for (int i = 0; i < 5; ++i) devices.push_back(make("cdrom", "cd" + std::to_string(i)));
    EXPECT_THAT([&] { assignIdePorts(MachineType::Pc, devices); },
                ::testing::ThrowsMessage<std::invalid_argument>(
                    HasSubstr("too many CD-ROMs and sata disks for the IDE controller of pc: it "
                              "has 4 ports")));
    EXPECT_EQ(assignIdePorts(MachineType::Q35, devices).size(), 5u);
}

TEST(BootDevicesArgv, CdromOnQ35AhciAndAnEmptyDriveAndASataDisk) {
    auto spec = machine(MachineType::Q35);
    spec.devices = {make("disk", "root", {{"path", "/d/r.img"}, {"bus", "sata"}}),
                    make("cdrom", "install", {{"path", "/iso/a,b.iso"}}), make("cdrom", "spare")};
    EXPECT_EQ(devicePart(argvOf(spec)),
              (Argv{"-blockdev", "driver=file,node-name=root-file,filename=/d/r.img,read-only=off",
                    "-blockdev", "driver=raw,node-name=root-format,file=root-file,read-only=off",
                    "-device", "ide-hd,id=root,drive=root-format,bus=ide.0,unit=0,bootindex=1",
                    "-blockdev",
                    "driver=file,node-name=install-medium,filename=/iso/a,,b.iso,read-only=on",
                    "-device", "ide-cd,id=install,drive=install-medium,bus=ide.1,unit=0", "-device",
                    "ide-cd,id=spare,bus=ide.2,unit=0"}));
}

TEST(BootDevicesArgv, CdromsTakeNoPciSlot) {
    auto spec = machine(MachineType::Pc);
    spec.devices = {make("cdrom", "cd0"), make("disk", "root", {{"path", "/d/r.img"}})};
    auto plan = planSlots(spec);
    EXPECT_EQ(plan.find("cd0"), (PciSlot{"ide.0", 0}));
    EXPECT_EQ(plan.find("root"), (PciSlot{"pci.0", 2}));
}

TEST(BootOrder, MapsEntriesToTheFirstDeviceOfEachClass) {
    auto spec = machine(MachineType::Q35);
    spec.devices = {make("disk", "d0", {{"path", "/d/0.img"}}),
                    make("disk", "d1", {{"path", "/d/1.img"}}), make("nic", "n0"),
                    make("cdrom", "c0"), make("cdrom", "c1")};
    spec.bootOrder = {BootTarget::Cdrom, BootTarget::Network, BootTarget::Disk};
    auto indexes = bootIndexes(spec, spec.devices);
    EXPECT_THAT(indexes, ElementsAre(std::pair<const std::string, unsigned>{"c0", 1},
                                     std::pair<const std::string, unsigned>{"d0", 3},
                                     std::pair<const std::string, unsigned>{"n0", 2}));
    auto line = devicePart(argvOf(spec));
    EXPECT_THAT(line, ::testing::Contains("ide-cd,id=c0,bus=ide.0,unit=0,bootindex=1"));
    EXPECT_THAT(line, ::testing::Contains("ide-cd,id=c1,bus=ide.1,unit=0"));
}

TEST(BootOrder, WithoutOrderTheFirstBootableDeviceBootsAndAKernelNeedsNone) {
    auto spec = machine(MachineType::Q35);
    spec.devices = {make("nic", "n0"), make("cdrom", "c0")};
    EXPECT_THAT(bootIndexes(spec, spec.devices),
                ElementsAre(std::pair<const std::string, unsigned>{"c0", 1}));
    spec.boot = BootSpec{"/boot/vmlinuz", "", ""};
    EXPECT_THAT(bootIndexes(spec, spec.devices), IsEmpty());
}

TEST(FirmwareArgv, UefiMapsCodeReadOnlyAndTheVmsOwnVars) {
    auto spec = machine(MachineType::Pc);
    spec.boot = BootSpec{"/boot/vmlinuz", "", ""};
    spec.firmware = {FirmwareType::Uefi, false, "/fw/CODE.fd", "/var/lib/corral/vm1/OVMF_VARS.fd"};
    auto argv = argvOf(spec);
    EXPECT_THAT(argv,
                ::testing::Contains("pc,accel=tcg,pflash0=corral-fw-code,pflash1=corral-fw-vars"));
    EXPECT_THAT(argv,
                ::testing::Contains(
                    "driver=file,node-name=corral-fw-code,filename=/fw/CODE.fd,read-only=on"));
    EXPECT_THAT(argv, ::testing::Contains("driver=file,node-name=corral-fw-vars,filename=/var/lib/"
                                          "corral/vm1/OVMF_VARS.fd,read-only=off"));
    EXPECT_THAT(argv, ::testing::Not(::testing::Contains("-global")));
}

TEST(FirmwareArgv, SecureBootTurnsOnSmmAndSecureFlash) {
    auto spec = machine(MachineType::Q35);
    spec.boot = BootSpec{"/boot/vmlinuz", "", ""};
    spec.firmware = {FirmwareType::Uefi, true, "/fw/SEC.fd", "/s/OVMF_VARS.secboot.fd"};
    auto argv = argvOf(spec);
    EXPECT_THAT(argv, ::testing::Contains(
                          "q35,accel=tcg,pflash0=corral-fw-code,pflash1=corral-fw-vars,smm=on"));
    auto global = std::find(argv.begin(), argv.end(), "-global");
    ASSERT_NE(global, argv.end());
    EXPECT_EQ(*(global + 1), "driver=cfi.pflash01,property=secure,value=on");
}

TEST(FirmwareArgv, BiosAddsNothing) {
    auto spec = machine(MachineType::Q35);
    spec.boot = BootSpec{"/boot/vmlinuz", "", ""};
    auto argv = argvOf(spec);
    EXPECT_THAT(argv, ::testing::Contains("q35,accel=tcg"));
    EXPECT_THAT(argv, ::testing::Not(::testing::Contains("-blockdev")));
}

class PrepareFirmware : public ::testing::Test {
  protected:
    PrepareFirmware() {
        std::ofstream(dir_ / "CODE.fd") << "code";
        std::ofstream(dir_ / "VARS.fd") << "template";
        files_ = {dir_ / "CODE.fd", dir_ / "VARS.fd", dir_ / "SEC.fd", dir_ / "MS.fd"};
    }
    std::string read(const std::filesystem::path& p) {
        std::ifstream in(p);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
    test::TempDir dir_;
    FirmwareFiles files_;
};

TEST_F(PrepareFirmware, CopiesTheTemplateOnceAndNeverOverwritesIt) {
    FirmwareSpec firmware{FirmwareType::Uefi, false, {}, {}};
    auto state = dir_ / "state" / "vm1";
    prepareFirmware(firmware, files_, state);
    EXPECT_EQ(firmware.code, dir_ / "CODE.fd");
    EXPECT_EQ(firmware.vars, state / "OVMF_VARS.fd");
    EXPECT_EQ(read(firmware.vars), "template");
    struct stat st {};
    ASSERT_EQ(::stat(firmware.vars.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    std::ofstream(firmware.vars) << "written by the guest";
    FirmwareSpec again{FirmwareType::Uefi, false, {}, {}};
    prepareFirmware(again, files_, state);
    EXPECT_EQ(read(again.vars), "written by the guest");
    EXPECT_FALSE(std::filesystem::exists(state / "OVMF_VARS.fd.new"));
}

TEST_F(PrepareFirmware, AMissingImageNamesTheFileAndThePackage) {
    FirmwareSpec firmware{FirmwareType::Uefi, true, {}, {}};
    EXPECT_THAT([&] { prepareFirmware(firmware, files_, dir_ / "state"); },
                ::testing::ThrowsMessage<std::runtime_error>(
                    HasSubstr((dir_ / "SEC.fd").string() +
                              ": No such file or directory (install the ovmf package, or name "
                              "another image with [firmware] secure_code in corral.toml)")));
    EXPECT_FALSE(std::filesystem::exists(dir_ / "state"));
    FirmwareSpec bios;
    prepareFirmware(bios, files_, dir_ / "state");
    EXPECT_TRUE(bios.vars.empty());
}

class BootLoader : public ::testing::Test {
  protected:
    BootLoader() {
        std::ofstream(dir_ / "a.iso") << "x";
        std::ofstream(dir_ / "disk.img") << "x";
        std::filesystem::create_directory(dir_ / "isodir");
    }
    std::string path(const char* name) const { return (dir_ / name).string(); }
    std::vector<std::string> errors(const std::string& text) {
        auto result = parseInstanceSpec(text, "vm.toml");
        std::vector<std::string> out;
        for (const auto& d : result.diagnostics) out.push_back(d.format());
        return out;
    }
    test::TempDir dir_;
};

TEST_F(BootLoader, ReadsFirmwareCdromsAndOrder) {
    auto result = parseInstanceSpec(
        "[firmware]\ntype = \"uefi\"\nsecure_boot = true\n"
        "[boot]\norder = [\"cdrom\", \"disk\"]\n"
        "[[disk]]\npath = \"" +
            path("disk.img") +
            "\"\nbus = \"sata\"\n"
            "[[cdrom]]\nid = \"install\"\npath = \"" +
            path("a.iso") + "\"\n[[cdrom]]\n",
        "vm.toml");
    ASSERT_TRUE(result.ok()) << result.diagnostics.front().format();
    const auto& spec = *result.spec;
    EXPECT_EQ(spec.firmware.type, FirmwareType::Uefi);
    EXPECT_TRUE(spec.firmware.secureBoot);
    EXPECT_FALSE(spec.boot);
    EXPECT_THAT(spec.bootOrder, ElementsAre(BootTarget::Cdrom, BootTarget::Disk));
    ASSERT_EQ(spec.devices.size(), 3u);
    EXPECT_EQ(spec.devices[1].id, "install");
    EXPECT_EQ(spec.devices[1].backend, path("a.iso"));
    EXPECT_EQ(spec.devices[2].id, "cdrom1");
    EXPECT_EQ(spec.devices[2].text("path"), "");
}

TEST_F(BootLoader, RefusesWhatCannotBoot) {
    EXPECT_THAT(errors("[[cdrom]]\npath = \"" + path("isodir") + "\"\n"),
                ElementsAre("vm.toml:2:8: error: path: \"" + path("isodir") + "\" is a directory"));
    EXPECT_THAT(
        errors("[[cdrom]]\npath = \"" + path("none.iso") + "\"\n"),
        ElementsAre("vm.toml:2:8: error: path: \"" + path("none.iso") + "\" does not exist"));
    EXPECT_THAT(errors("[firmware]\nsecure_boot = true\n[[cdrom]]\n"),
                ElementsAre("vm.toml:2:15: error: secure_boot: needs type = \"uefi\" (Secure Boot "
                            "is a feature of UEFI firmware)"));
    EXPECT_THAT(errors("[machine]\ntype = \"pc\"\n[firmware]\ntype = \"uefi\"\nsecure_boot = "
                       "true\n[[cdrom]]\n"),
                ElementsAre(HasSubstr("vm.toml:5:15: error: secure_boot: needs [machine] type = "
                                      "\"q35\"")));
    EXPECT_THAT(errors("[firmware]\ntype = \"efi\"\n[[cdrom]]\n"),
                ElementsAre("vm.toml:2:8: error: type: expected one of \"bios\" | \"uefi\", got "
                            "\"efi\""));
}

TEST_F(BootLoader, RefusesBadOrders) {
    std::string cdrom = "[[cdrom]]\n";
    EXPECT_THAT(errors("[boot]\norder = [\"cdrom\", \"floppy\", \"cdrom\", \"network\"]\n" + cdrom),
                ElementsAre("vm.toml:2:19: error: order: expected one of \"cdrom\" | \"disk\" | "
                            "\"network\", got \"floppy\"",
                            "vm.toml:2:29: error: order: \"cdrom\" is listed twice",
                            "vm.toml:2:38: error: order: \"network\" but the definition has no "
                            "[[nic]]"));
    EXPECT_THAT(
        errors("[boot]\norder = [\"cdrom\"]\ncmdline = \"quiet\"\n" + cdrom),
        ElementsAre(HasSubstr("vm.toml:3:11: error: cmdline: not together with \"order\"")));
    EXPECT_THAT(errors("[boot]\norder = []\n" + cdrom),
                ElementsAre("vm.toml:2:9: error: order: lists no device class"));
    EXPECT_THAT(errors("[boot]\n" + cdrom),
                ElementsAre("vm.toml:1:1: error: [boot]: needs \"kernel\" (direct kernel boot) or "
                            "\"order\""));
}

}  // namespace
}  // namespace corral::hypervisor

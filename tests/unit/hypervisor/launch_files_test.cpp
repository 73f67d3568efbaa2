// The files a launch opens before it spawns qemu: each failure names the device, the path and
// the errno's text.
#include "hypervisor/launch_files.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/temp_dir.hpp"

namespace corral::hypervisor {
namespace {

class LaunchFiles : public ::testing::Test {
  protected:
    LaunchFiles() {
        for (const char* name : {"vmlinuz", "initrd", "d1.img", "ro.img", "cd.iso"})
            std::ofstream(dir_ / name) << "x";
    }

    InstanceSpec spec() {
        auto text = "[boot]\nkernel = \"" + path("vmlinuz") + "\"\ninitrd = \"" + path("initrd") +
                    "\"\n[[disk]]\nid = \"d1\"\npath = \"" + path("d1.img") +
                    "\"\n[[disk]]\nid = \"ro\"\nreadonly = true\npath = \"" + path("ro.img") +
                    "\"\n[[cdrom]]\nid = \"cd0\"\npath = \"" + path("cd.iso") + "\"\n";
        auto result = parseInstanceSpec(text, "vm1.toml");
        EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.diagnostics[0].format());
        return result.ok() ? *result.spec : InstanceSpec{};
    }
    std::string path(const std::string& name) const { return (dir_ / name).string(); }
    // Replaces the file by a directory.
    void makeDirectory(const std::string& name) {
        std::filesystem::remove(dir_ / name);
        std::filesystem::create_directory(dir_ / name);
    }

    test::TempDir dir_;
};

TEST_F(LaunchFiles, AllPresentOpen) {
    auto s = spec();
    EXPECT_EQ(unopenableFile(s, s.devices), std::nullopt);
}

TEST_F(LaunchFiles, AMissingDiskIsNamedWithItsPathAndErrno) {
    auto s = spec();
    std::filesystem::remove(dir_ / "d1.img");
    EXPECT_EQ(unopenableFile(s, s.devices),
              "disk 'd1': " + path("d1.img") + ": No such file or directory");
}

TEST_F(LaunchFiles, DirectoriesAreRefusedReadOnlyOrNot) {
    auto s = spec();
    makeDirectory("ro.img");  // opened read-only: open(2) alone would accept a directory
    EXPECT_EQ(unopenableFile(s, s.devices), "disk 'ro': " + path("ro.img") + ": Is a directory");
    makeDirectory("d1.img");
    EXPECT_EQ(unopenableFile(s, s.devices), "disk 'd1': " + path("d1.img") + ": Is a directory");
}

TEST_F(LaunchFiles, CdromKernelAndInitrdToo) {
    auto s = spec();
    std::filesystem::remove(dir_ / "cd.iso");
    EXPECT_EQ(unopenableFile(s, s.devices),
              "cdrom 'cd0': " + path("cd.iso") + ": No such file or directory");
    std::ofstream(dir_ / "cd.iso") << "x";
    makeDirectory("initrd");
    EXPECT_EQ(unopenableFile(s, s.devices), "boot initrd: " + path("initrd") + ": Is a directory");
    std::filesystem::remove(dir_ / "vmlinuz");
    EXPECT_EQ(unopenableFile(s, s.devices),
              "boot kernel: " + path("vmlinuz") + ": No such file or directory");
}

TEST_F(LaunchFiles, FirmwareCodeAndVars) {
    auto s = spec();
    std::ofstream(dir_ / "OVMF_CODE.fd") << "x";
    s.firmware.code = dir_ / "OVMF_CODE.fd";
    s.firmware.vars = dir_ / "OVMF_VARS.fd";
    EXPECT_EQ(unopenableFile(s, s.devices),
              "firmware vars: " + path("OVMF_VARS.fd") + ": No such file or directory");
    std::ofstream(dir_ / "OVMF_VARS.fd") << "x";
    EXPECT_EQ(unopenableFile(s, s.devices), std::nullopt);
    std::filesystem::remove(dir_ / "OVMF_CODE.fd");
    EXPECT_EQ(unopenableFile(s, s.devices),
              "firmware code: " + path("OVMF_CODE.fd") + ": No such file or directory");
}

TEST_F(LaunchFiles, VncPasswordAndTlsFiles) {
    auto s = spec();
    s.display.type = DisplayType::Vnc;
    s.display.passwordFile = dir_ / "vnc.pass";
    EXPECT_EQ(unopenableFile(s, s.devices),
              "vnc password: " + path("vnc.pass") + ": No such file or directory");
    std::ofstream(dir_ / "vnc.pass") << "secret";
    std::filesystem::create_directory(dir_ / "tls");
    s.display.tlsDir = dir_ / "tls";
    for (const char* file : {"ca-cert.pem", "server-cert.pem"}) std::ofstream(dir_ / "tls" / file);
    EXPECT_EQ(unopenableFile(s, s.devices),
              "vnc tls: " + path("tls/server-key.pem") + ": No such file or directory");
    makeDirectory("tls/server-key.pem");
    EXPECT_EQ(unopenableFile(s, s.devices),
              "vnc tls: " + path("tls/server-key.pem") + ": Is a directory");
    std::filesystem::remove(dir_ / "tls" / "server-key.pem");
    std::ofstream(dir_ / "tls" / "server-key.pem");
    EXPECT_EQ(unopenableFile(s, s.devices), std::nullopt);
}

// Read-write as qemu opens it: a file that may be read but not written (sysfs's 0400
// /sys/kernel/notes, which root cannot open for writing either) fails only as a writable disk.
TEST_F(LaunchFiles, AWritableDiskIsOpenedReadWrite) {
    const std::string notes = "/sys/kernel/notes";
    if (!std::filesystem::exists(notes)) GTEST_SKIP() << notes << " is missing on this kernel";
    auto s = spec();
    for (auto& device : s.devices) {
        if (device.id != "d1" && device.id != "ro") continue;
        device.options["path"] = notes;
    }
    auto why = unopenableFile(s, s.devices);
    ASSERT_TRUE(why);
    EXPECT_EQ(*why, "disk 'd1': " + notes + ": Permission denied");
    for (auto& device : s.devices)
        if (device.id == "d1") device.options["readonly"] = true;
    EXPECT_EQ(unopenableFile(s, s.devices), std::nullopt);
}

}  // namespace
}  // namespace corral::hypervisor

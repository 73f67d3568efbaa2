// Booting real guests (TCG) from [[cdrom]] under OVMF and SeaBIOS through corrald: ISOs built
// from the guest image (build-isos.sh), media change and eject seen by the guest, the per-VM
// UEFI variable store kept across runs, and Secure Boot with Microsoft's keys enrolled refusing
// an unsigned GRUB and booting Debian's signed chain.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <regex>

#include "tests/integration/supervisor/corrald_fixture.hpp"
#include "tests/support/serial_console.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;

constexpr auto kBootTimeout = 400s;  // OVMF, GRUB and the kernel under TCG on a loaded machine

std::filesystem::path isoDir() {
    return std::filesystem::path(CORRAL_BINARY_DIR) / "boot-isos";
}

struct VarsFile {
    ino_t inode = 0;
    std::string content;
};

VarsFile varsFile(const std::filesystem::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return {};
    return {st.st_ino, readFile(path)};
}

class BootGuest : public CorraldFixture {
  protected:
    static void SetUpTestSuite() {
        TempDir scratch;
        auto built = runCommand(
            {std::string(CORRAL_SOURCE_DIR) + "/tests/integration/supervisor/build-isos.sh",
             isoDir().string(), guestKernel().string(), guestInitrd().string()},
            300s, scratch.path());
        ASSERT_EQ(built.status, 0) << built.output;
    }

    void SetUp() override {
        ASSERT_TRUE(std::filesystem::exists(isoDir() / "boot.iso"));
        startCorrald();
    }

    std::string iso(const char* name) const { return (isoDir() / name).string(); }

    void define(const std::string& name, const std::string& machine, const std::string& firmware,
                const std::string& devices) {
        writeFile(name + ".toml", "[machine]\ntype = \"" + machine +
                                      "\"\naccel = \"tcg\"\nmemory = \"512M\"\n"
                                      "hotplug_slots = 0\n" +
                                      firmware + "\n[boot]\norder = [\"cdrom\"]\n" + devices +
                                      "\n[agent]\nnegotiator = false\n[lifecycle]\n"
                                      "shutdown_timeout = \"3s\"\n");
        ASSERT_EQ(
            busctl({"call", "org.corral1", "/org/corral1", "org.corral1.Manager", "Reload"}).status,
            0);
    }

    // Starts `name` and connects to its serial console at once, so that nothing the firmware
    // prints is missed.
    std::unique_ptr<SerialConsole> start(const std::string& name) {
        auto started = call(name, "Start");
        EXPECT_EQ(started.status, 0) << started.output << corraldLog();
        return std::make_unique<SerialConsole>(dir_ / "run" / name / "serial.sock");
    }

    void kill(const std::string& name) {
        EXPECT_EQ(call(name, "Kill").status, 0);
        EXPECT_TRUE(waitProperty(name, "State", "s \"stopped\"", 60s)) << property(name, "State");
    }

    CommandResult corralctl(std::vector<std::string> args) {
        std::vector<std::string> argv = {std::string(CORRAL_BINARY_DIR) + "/supervisor/corralctl",
                                         "--address", address_};
        argv.insert(argv.end(), args.begin(), args.end());
        return runCommand(argv, 120s, dir_.path());
    }

    std::string stateJson(const std::string& name) {
        return readFile(dir_ / "run" / name / "state.json");
    }
};

const std::regex kReady("corral-guest: userspace ready");

TEST_F(BootGuest, UefiBootsTheIsoAndTheGuestSeesMediaChangesAndEject) {
    define("uefi1", "q35", "[firmware]\ntype = \"uefi\"",
           "[[cdrom]]\nid = \"cd0\"\npath = \"" + iso("boot.iso") + "\"\n");
    auto console = start("uefi1");
    ASSERT_TRUE(console->waitFor(kReady, kBootTimeout)) << console->transcript();
    EXPECT_NE(console->transcript().find("BdsDxe: starting"), std::string::npos);
    auto seen =
        console->run("test -d /sys/firmware/efi && test -b /dev/sr0 && echo both-there", 30s);
    ASSERT_TRUE(seen);
    EXPECT_EQ(seen->status, 0) << seen->text;
    EXPECT_NE(seen->text.find("both-there"), std::string::npos) << seen->text;

    auto changed = call("uefi1", "ChangeMedia", {"ss", "cd0", iso("marker.iso")});
    ASSERT_EQ(changed.status, 0) << changed.output << corraldLog();
    EXPECT_NE(stateJson("uefi1").find("marker.iso"), std::string::npos) << stateJson("uefi1");
    EXPECT_EQ(property("uefi1", "Media"), "a(ss) 1 \"cd0\" \"" + iso("marker.iso") + "\"");
    // The drive reports the change (UNIT ATTENTION) on the guest's first command after it; the
    // guest's block layer may see it only then, so the first mount may fail once.
    auto marker = console->run(
        "mkdir -p /mnt; for i in 1 2 3 4 5; do mount -t iso9660 -o ro /dev/sr0 /mnt && break; "
        "sleep 1; done; cat /mnt/corral-marker.txt; umount /mnt",
        60s);
    ASSERT_TRUE(marker);
    EXPECT_NE(marker->text.find("corral-marker-2"), std::string::npos) << marker->text;

    auto ejected = corralctl({"cdrom", "uefi1", "cd0", "--eject"});
    ASSERT_EQ(ejected.status, 0) << ejected.output;
    EXPECT_EQ(stateJson("uefi1").find("marker.iso"), std::string::npos) << stateJson("uefi1");
    EXPECT_EQ(property("uefi1", "Media"), "a(ss) 1 \"cd0\" \"\"");
    auto empty = console->run("dd if=/dev/sr0 of=/dev/null bs=2048 count=1", 60s);
    ASSERT_TRUE(empty);
    EXPECT_NE(empty->status, 0) << empty->text;
    EXPECT_NE(empty->text.find("No medium"), std::string::npos) << empty->text;

    // A directory, a missing file: refused before QEMU is asked.
    auto directory = call("uefi1", "ChangeMedia", {"ss", "cd0", isoDir().string()});
    EXPECT_NE(directory.status, 0);
    EXPECT_NE(directory.output.find("is not a regular file"), std::string::npos)
        << directory.output;
    auto missing = corralctl({"cdrom", "uefi1", "cd0", iso("none.iso")});
    EXPECT_NE(missing.status, 0);
    EXPECT_NE(missing.output.find("No such file or directory"), std::string::npos)
        << missing.output;
    kill("uefi1");
}

TEST_F(BootGuest, UefiVariablesAreCreatedAtTheFirstStartAndKeptAfterwards) {
    define("vars1", "q35", "[firmware]\ntype = \"uefi\"",
           "[[cdrom]]\nid = \"cd0\"\npath = \"" + iso("boot.iso") + "\"\n");
    auto vars = dir_ / "state" / "vars1" / "OVMF_VARS.fd";
    EXPECT_FALSE(std::filesystem::exists(vars));
    auto template_ = readFile("/usr/share/OVMF/OVMF_VARS_4M.fd");
    {
        auto console = start("vars1");
        ASSERT_TRUE(console->waitFor(kReady, kBootTimeout)) << console->transcript();
        kill("vars1");
    }
    // OVMF wrote its boot entries for the CD-ROM into this VM's store, not into the template.
    const std::string bootOrder("B\0o\0o\0t\0O\0r\0d\0e\0r\0", 18);  // UTF-16 name
    auto first = varsFile(vars);
    ASSERT_NE(first.inode, 0u);
    EXPECT_EQ(template_.find(bootOrder), std::string::npos);
    EXPECT_NE(first.content.find(bootOrder), std::string::npos);
    EXPECT_EQ(readFile("/usr/share/OVMF/OVMF_VARS_4M.fd"), template_);
    {
        auto console = start("vars1");
        ASSERT_TRUE(console->waitFor(kReady, kBootTimeout)) << console->transcript();
        kill("vars1");
    }
    // The same file, not a new copy of the template: what OVMF wrote is still there.
    auto second = varsFile(vars);
    EXPECT_EQ(second.inode, first.inode);
    EXPECT_NE(second.content.find(bootOrder), std::string::npos);

    // Undefine with remove_storage takes the state dir with it.
    auto undefined = corralctl({"undefine", "vars1", "--remove-storage"});
    EXPECT_EQ(undefined.status, 0) << undefined.output;
    EXPECT_FALSE(std::filesystem::exists(vars.parent_path()));
}

TEST_F(BootGuest, BiosBootsTheSameIsoWithASataDiskBeside) {
    std::ofstream(dir_ / "data.img").close();
    std::filesystem::resize_file(dir_ / "data.img", 16 << 20);
    define("bios1", "pc", "",
           "[[disk]]\nid = \"data\"\nbus = \"sata\"\npath = \"" + (dir_ / "data.img").string() +
               "\"\n[[cdrom]]\nid = \"cd0\"\npath = \"" + iso("boot.iso") + "\"\n");
    auto console = start("bios1");
    ASSERT_TRUE(console->waitFor(kReady, kBootTimeout)) << console->transcript();
    auto seen = console->run(
        "test -d /sys/firmware/efi && echo efi; test -b /dev/sr0 && echo cdrom; "
        "cat /sys/block/sda/size",
        30s);
    ASSERT_TRUE(seen);
    EXPECT_EQ(seen->text.find("efi\n"), std::string::npos) << seen->text;
    EXPECT_NE(seen->text.find("cdrom"), std::string::npos) << seen->text;
    EXPECT_NE(seen->text.find("32768"), std::string::npos) << seen->text;  // 16 MiB in sectors
    auto hotplug = corralctl({"attach", "bios1", "disk", "more", "--option",
                              "path=" + (dir_ / "data.img").string(), "--option", "bus=sata"});
    EXPECT_NE(hotplug.status, 0);
    EXPECT_NE(hotplug.output.find("cannot be hotplugged"), std::string::npos) << hotplug.output;
    kill("bios1");
}

TEST_F(BootGuest, SecureBootRefusesAnUnsignedLoaderAndBootsDebiansSignedChain) {
    std::string secure = "[firmware]\ntype = \"uefi\"\nsecure_boot = true";
    define("sb1", "q35", secure, "[[cdrom]]\nid = \"cd0\"\npath = \"" + iso("boot.iso") + "\"\n");
    {
        auto console = start("sb1");
        // OVMF's boot manager says why it did not start the CD's (unsigned) GRUB.
        auto refused = console->waitFor(
            std::regex("BdsDxe: failed to (load|start) Boot[0-9A-F]+ \"UEFI QEMU DVD-ROM[^\n]*"
                       "(Access Denied|Security Violation)"),
            kBootTimeout);
        ASSERT_TRUE(refused) << console->transcript();
        EXPECT_EQ(console->transcript().find("Welcome to GRUB"), std::string::npos);
        kill("sb1");
    }
    define("sb2", "q35", secure, "[[cdrom]]\nid = \"cd0\"\npath = \"" + iso("signed.iso") + "\"\n");
    auto console = start("sb2");
    ASSERT_TRUE(console->waitFor(kReady, kBootTimeout)) << console->transcript();
    auto log = console->run("dmesg | grep -i 'secure boot'", 30s);
    ASSERT_TRUE(log);
    EXPECT_NE(log->text.find("secureboot: Secure boot enabled"), std::string::npos) << log->text;
    kill("sb2");
}

}  // namespace
}  // namespace corral::test

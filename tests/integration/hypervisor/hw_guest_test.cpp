// CPU model and topology, block devices, the SCSI bus, discard, AIO, iothreads and the e1000e NIC
// under corrald with the real guest (TCG): what the definition and AttachDevice ask for is what
// the guest kernel sees, and what QEMU reports.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "tests/integration/hypervisor/corralctl_run.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// A host shell command, bounded; its status and output.
CommandResult host(const std::string& shell, const std::filesystem::path& scratch) {
    return runCommand({"sh", "-c", shell}, 60s, scratch);
}

// A loop device on `file`, detached again when it goes.
class LoopDevice {
  public:
    LoopDevice(const std::filesystem::path& file, const std::filesystem::path& scratch)
        : scratch_(scratch) {
        auto made = host("losetup --find --show " + file.string(), scratch);
        if (made.status == 0) device_ = made.output.substr(0, made.output.find('\n'));
        why_ = made.output;
    }
    ~LoopDevice() {
        if (!device_.empty()) host("losetup -d " + device_, scratch_);
    }
    LoopDevice(const LoopDevice&) = delete;
    LoopDevice& operator=(const LoopDevice&) = delete;

    const std::string& device() const { return device_; }
    const std::string& why() const { return why_; }

  private:
    std::filesystem::path scratch_;
    std::string device_;
    std::string why_;
};

// LVM without udev (the test machine may run none): device nodes made by LVM itself.
const std::string kLvm =
    "DM_DISABLE_UDEV=1 LVM_SUPPRESS_FD_WARNINGS=1 {} "
    "--config 'activation { udev_sync = 0 udev_rules = 0 }' ";

std::string lvm(const std::string& command) {
    std::string text = kLvm;
    return text.replace(text.find("{}"), 2, command);
}

GuestOptions q35() {
    GuestOptions options;
    options.machine = "q35";
    return options;
}

class HwGuest : public CorraldFixture {
  protected:
    CommandResult ctl(const std::vector<std::string>& args) {
        return corralctl(address_, args, dir_.path());
    }

    // The test guest with [machine] `machine` keys added and `extra` TOML after its own.
    void writeGuestWith(const std::string& name, const std::string& machine,
                        const std::string& extra, const GuestOptions& options = {}) {
        writeGuest(name, options);
        auto text = readFile(dir_ / "instances" / (name + ".toml"));
        auto cpus = text.find("cpus = 1\n");
        if (!machine.empty()) text.replace(cpus, 9, machine);
        writeFile(name + ".toml", text + extra);
    }

    void startAndWaitForAgent(const std::string& name) {
        auto start = call(name, "Start");
        ASSERT_EQ(start.status, 0) << start.output << corraldLog();
        ASSERT_TRUE(waitProperty(name, "AgentConnected", "b true", 240s)) << corraldLog();
    }

    std::string guest(const std::string& name, const std::string& shell) {
        return call(name, "GuestExecute", {"asst", "3", "sh", "-c", shell, "", "30000000"}).output;
    }

    bool waitGuest(const std::string& name, const std::string& shell, const std::string& text,
                   std::chrono::seconds limit = 30s) {
        auto deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            if (guest(name, shell).find(text) != std::string::npos) return true;
            std::this_thread::sleep_for(250ms);
        }
        return false;
    }

    std::string monitor(const std::string& name, const std::string& json) {
        return call(name, "Monitor", {"s", json}).output;
    }

    // An 8 MiB image whose first bytes are `marker`.
    std::filesystem::path image(const std::string& file, const std::string& marker) {
        auto path = dir_ / file;
        std::ofstream(path) << marker;
        std::filesystem::resize_file(path, 8 << 20);
        return path;
    }

    // What the guest reads at the start of every virtio and SCSI disk.
    static constexpr const char* kHeads =
        "for d in /dev/vd? /dev/sd?; do [ -b $d ] && echo $d=$(head -c 12 $d); done; true";

    std::string disk(const std::string& id, const std::string& path, const std::string& more = {}) {
        return "\n[[disk]]\nid = \"" + id + "\"\npath = \"" + path + "\"\n" + more;
    }
};

TEST_F(HwGuest, GuestSeesTheCpuModelFlagsAndTopology) {
    writeGuestWith("c1",
                   "cpus = 4\ncpu = \"Westmere\"\ncpu_flags = [\"+movbe\", \"-aes\"]\n"
                   "sockets = 2\nthreads = 2\n",
                   "");
    startCorrald();
    startAndWaitForAgent("c1");
    EXPECT_THAT(guest("c1", "grep -m1 'model name' /proc/cpuinfo"),
                HasSubstr("Westmere E56xx/L56xx/X56xx"));
    auto flags = guest("c1", "grep -m1 '^flags' /proc/cpuinfo");
    EXPECT_THAT(flags, HasSubstr(" movbe"));
    EXPECT_THAT(flags, ::testing::Not(HasSubstr(" aes")));
    EXPECT_THAT(flags, HasSubstr(" sse4_2"));  // the model's own flags stay
    const std::string topology = "/sys/devices/system/cpu/cpu*/topology/";
    EXPECT_EQ(guest("c1", "echo $(cat " + topology + "physical_package_id)"), "s \"0 0 1 1\"\n");
    EXPECT_EQ(guest("c1", "echo $(cat " + topology + "thread_siblings_list)"),
              "s \"0-1 0-1 2-3 2-3\"\n");
    EXPECT_EQ(call("c1", "Kill").status, 0);
}

TEST_F(HwGuest, TcgDefaultIsMaxAndAModelQemuLacksIsRefusedAtDefine) {
    writeGuestWith("c2", "", "");
    writeGuestWith("c3", "cpus = 1\ncpu = \"Pentium-9000\"\n", "");
    startCorrald();
    startAndWaitForAgent("c2");
    auto cmdline =
        host("tr '\\0' ' ' < /proc/" + std::to_string(pid("c2")) + "/cmdline", dir_.path());
    EXPECT_THAT(cmdline.output, HasSubstr("-cpu max -smp 1 "));
    EXPECT_EQ(call("c2", "Kill").status, 0);
    // corrald checked the model against its qemu when it loaded the file: not an instance.
    EXPECT_THAT(corraldLog(), HasSubstr("c3.toml:5:7: error: cpu: CPU model \"Pentium-9000\" is "
                                        "not offered by qemu-system-x86_64"));
}

TEST_F(HwGuest, LoopDeviceAtBootAndByHotplug) {
    LoopDevice boot(image("boot.img", "corral-boot0"), dir_.path());
    LoopDevice hot(image("hot.img", "corral-hot00"), dir_.path());
    if (boot.device().empty() || hot.device().empty())
        GTEST_SKIP() << "no loop device: " << boot.why() << hot.why();
    writeGuestWith("b1", "", disk("blk", boot.device(), "cache = \"none\"\naio = \"native\"\n"));
    startCorrald();
    startAndWaitForAgent("b1");
    EXPECT_TRUE(waitGuest("b1", kHeads, "/dev/vda=corral-boot0")) << guest("b1", kHeads);
    EXPECT_THAT(monitor("b1", R"({"execute":"query-named-block-nodes"})"),
                HasSubstr(R"(\"drv\":\"host_device\")"));
    auto attached = ctl({"attach", "b1", "disk", "hotblk", "--option", "path=" + hot.device(),
                         "--option", "aio=io_uring"});
    ASSERT_EQ(attached.status, 0) << attached.output << corraldLog();
    EXPECT_TRUE(waitGuest("b1", kHeads, "/dev/vdb=corral-hot00")) << guest("b1", kHeads);
    auto detached = ctl({"detach", "b1", "hotblk"});
    EXPECT_EQ(detached.status, 0) << detached.output;
    EXPECT_EQ(call("b1", "Kill").status, 0);
}

TEST_F(HwGuest, LvmLogicalVolumesAtBootAndByHotplug) {
    if (host("grep -qw device-mapper /proc/misc", dir_.path()).status != 0)
        GTEST_SKIP() << "the kernel has no device-mapper: LVM logical volumes cannot exist here";
    auto backing = dir_ / "pv.img";
    std::ofstream(backing).close();
    std::filesystem::resize_file(backing, 64 << 20);
    LoopDevice pv(backing, dir_.path());
    ASSERT_FALSE(pv.device().empty()) << pv.why();
    std::string vg = "corraltest" + std::to_string(::getpid());
    struct Teardown {
        std::string vg, pv;
        std::filesystem::path scratch;
        ~Teardown() {
            host(lvm("vgremove -q -f") + vg, scratch);
            host(lvm("pvremove -q") + pv, scratch);
        }
    } teardown{vg, pv.device(), dir_.path()};
    for (const auto& step :
         {lvm("pvcreate -q") + pv.device(), lvm("vgcreate -q") + vg + " " + pv.device(),
          lvm("lvcreate -q -y -L 8M -n boot") + vg, lvm("lvcreate -q -y -L 8M -n hot") + vg,
          "printf corral-lvboot | dd of=/dev/" + vg + "/boot conv=fsync status=none",
          "printf corral-lvhot0 | dd of=/dev/" + vg + "/hot conv=fsync status=none"}) {
        auto done = host(step, dir_.path());
        ASSERT_EQ(done.status, 0) << step << ": " << done.output;
    }
    writeGuestWith("l1", "", disk("lvboot", "/dev/" + vg + "/boot"));
    startCorrald();
    startAndWaitForAgent("l1");
    EXPECT_TRUE(waitGuest("l1", kHeads, "/dev/vda=corral-lvboot")) << guest("l1", kHeads);
    auto attached = call("l1", "AttachDevice",
                         {"ssa{sv}", "disk", "lvhot", "1", "path", "s", "/dev/" + vg + "/hot"});
    ASSERT_EQ(attached.status, 0) << attached.output << corraldLog();
    EXPECT_TRUE(waitGuest("l1", kHeads, "/dev/vdb=corral-lvhot0")) << guest("l1", kHeads);
    EXPECT_EQ(call("l1", "Kill").status, 0);
}

// The guest discards the whole disk; with discard = "unmap" qemu punches the holes into the
// sparse backing file, so its allocated blocks drop.
TEST_F(HwGuest, DiscardFromTheGuestReachesTheSparseFile) {
    auto file = dir_ / "sparse.img";
    auto filled = host("head -c 16M /dev/urandom > " + file.string() + " && truncate -s 64M " +
                           file.string() + " && sync",
                       dir_.path());
    ASSERT_EQ(filled.status, 0) << filled.output;
    auto allocated = [&] {
        struct stat st {};
        ::stat(file.c_str(), &st);
        return static_cast<long long>(st.st_blocks) * 512;
    };
    auto before = allocated();
    ASSERT_GE(before, 16ll << 20);
    writeGuestWith("d1", "", disk("trim", file.string(), "discard = \"unmap\"\n"));
    startCorrald();
    startAndWaitForAgent("d1");
    auto discarded = guest("d1", "blkdiscard /dev/vda; echo rc=$?");
    EXPECT_THAT(discarded, HasSubstr("rc=0")) << discarded;
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (allocated() > before / 4 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(200ms);
    EXPECT_LT(allocated(), before / 4) << "allocated " << allocated() << " of " << before;
    EXPECT_EQ(call("d1", "Kill").status, 0);
}

TEST_F(HwGuest, ScsiDisksAreSdOnOneControllerWithItsIothreadAndHotplug) {
    writeGuestWith(
        "s1", "",
        disk("s0", image("s0.img", "corral-scsi0").string(), "bus = \"scsi\"\niothread = true\n"));
    startCorrald();
    startAndWaitForAgent("s1");
    EXPECT_TRUE(waitGuest("s1", kHeads, "/dev/sda=corral-scsi0")) << guest("s1", kHeads);
    EXPECT_THAT(monitor("s1", R"({"execute":"query-iothreads"})"),
                HasSubstr(R"(\"id\":\"corral-scsi-iothread\")"));
    auto attached =
        ctl({"attach", "s1", "disk", "s9", "--option",
             "path=" + image("s9.img", "corral-scsi9").string(), "--option", "bus=scsi"});
    ASSERT_EQ(attached.status, 0) << attached.output << corraldLog();
    EXPECT_TRUE(waitGuest("s1", kHeads, "/dev/sdb=corral-scsi9")) << guest("s1", kHeads);
    auto detached = ctl({"detach", "s1", "s9"});
    EXPECT_EQ(detached.status, 0) << detached.output << corraldLog();
    EXPECT_TRUE(waitGuest("s1", "ls /sys/block", "sda")) << guest("s1", "ls /sys/block");
    EXPECT_THAT(guest("s1", "ls /sys/block"), ::testing::Not(HasSubstr("sdb")));
    EXPECT_EQ(call("s1", "Kill").status, 0);
}

TEST_F(HwGuest, ScsiHotplugWithoutAControllerIsRefused) {
    writeGuest("s2");
    startCorrald();
    startAndWaitForAgent("s2");
    auto attached = ctl({"attach", "s2", "disk", "s0", "--option",
                         "path=" + image("s0.img", "x").string(), "--option", "bus=scsi"});
    EXPECT_NE(attached.status, 0);
    EXPECT_THAT(attached.output, HasSubstr("this VM has no SCSI controller"));
    EXPECT_EQ(call("s2", "Kill").status, 0);
}

TEST_F(HwGuest, IothreadAndIoUringDiskAtBootAndByHotplug) {
    writeGuestWith("i1", "",
                   disk("fast", image("fast.img", "corral-fast0").string(),
                        "aio = \"io_uring\"\niothread = true\n"),
                   q35());
    startCorrald();
    startAndWaitForAgent("i1");
    EXPECT_TRUE(waitGuest("i1", kHeads, "/dev/vda=corral-fast0")) << guest("i1", kHeads);
    auto link = R"({"execute":"qom-get","arguments":{"path":"/machine/peripheral/)";
    EXPECT_THAT(monitor("i1", std::string(link) + R"(fast","property":"iothread"}})"),
                HasSubstr("/objects/fast-iothread"));
    auto attached =
        call("i1", "AttachDevice",
             {"ssa{sv}", "disk", "hot", "3", "path", "s", image("hot.img", "corral-hot01").string(),
              "aio", "s", "io_uring", "iothread", "b", "true"});
    ASSERT_EQ(attached.status, 0) << attached.output << corraldLog();
    EXPECT_TRUE(waitGuest("i1", kHeads, "/dev/vdb=corral-hot01")) << guest("i1", kHeads);
    EXPECT_THAT(monitor("i1", R"({"execute":"query-iothreads"})"),
                HasSubstr(R"(\"id\":\"hot-iothread\")"));
    auto detached = ctl({"detach", "i1", "hot"});
    EXPECT_EQ(detached.status, 0) << detached.output << corraldLog();
    EXPECT_THAT(monitor("i1", R"({"execute":"query-iothreads"})"),
                ::testing::Not(HasSubstr("hot-iothread")));
    EXPECT_EQ(call("i1", "Kill").status, 0);
}

TEST_F(HwGuest, E1000eNicAtBootAndByHotplug) {
    writeGuestWith("n1", "", "\n[[nic]]\nid = \"lan\"\nmodel = \"e1000e\"\n", q35());
    startCorrald();
    startAndWaitForAgent("n1");
    const std::string driver = "basename $(readlink /sys/class/net/eth0/device/driver)";
    EXPECT_TRUE(waitGuest("n1", driver, "e1000e")) << guest("n1", driver);
    auto attached = ctl({"attach", "n1", "nic", "lan2", "--option", "model=e1000e"});
    ASSERT_EQ(attached.status, 0) << attached.output << corraldLog();
    const std::string second = "basename $(readlink /sys/class/net/eth1/device/driver)";
    EXPECT_TRUE(waitGuest("n1", second, "e1000e")) << guest("n1", "ls /sys/class/net");
    EXPECT_EQ(call("n1", "Kill").status, 0);
}

}  // namespace
}  // namespace corral::test

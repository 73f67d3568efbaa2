// What a VM keeps, on one real q35 guest (TCG) under corrald, driven through busctl and corralctl.
// A Reboot: a disk and a NIC hotplugged before it are still there after it, seen by the guest,
// and still detachable (the new qemu's hotplug bookkeeping has them). attach --persist: the disk
// goes into the TOML file (every other byte kept) and is there after a stop and start; a
// definition corrald cannot rewrite refuses the attach before the VM is touched; detach
// --persist gives back the original file.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "tests/integration/supervisor/corrald_fixture.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;

class PersistGuest : public CorraldFixture {
  protected:
    void waitForAgent(const std::string& name) {
        ASSERT_TRUE(waitProperty(name, "AgentConnected", "b true", 180s)) << corraldLog();
    }
    CommandResult ctl(std::vector<std::string> args) {
        std::vector<std::string> argv = {std::string(CORRAL_BINARY_DIR) + "/supervisor/corralctl",
                                         "--address", address_};
        argv.insert(argv.end(), args.begin(), args.end());
        return runCommand(argv, 120s, dir_.path());
    }
    std::filesystem::path image(const std::string& name, std::uintmax_t bytes) {
        auto file = dir_ / name;
        std::ofstream(file).close();
        std::filesystem::resize_file(file, bytes);
        return file;
    }
    CommandResult exec(const std::string& name, const std::string& shell) {
        return call(name, "GuestExecute", {"asst", "3", "sh", "-c", shell, "", "20000000"});
    }
    // Polls a guest shell command until its output does (or does not) contain `text`, bounded.
    bool waitGuest(const std::string& name, const std::string& shell, const std::string& text,
                   bool present = true) {
        auto deadline = std::chrono::steady_clock::now() + 60s;
        while (std::chrono::steady_clock::now() < deadline) {
            // The marker tells an answer without `text` from a call that failed.
            auto out = exec(name, shell + " 2>/dev/null; echo end-of-output");
            if (out.output.find("end-of-output") != std::string::npos &&
                (out.output.find(text) != std::string::npos) == present)
                return true;
            std::this_thread::sleep_for(200ms);
        }
        return false;
    }
};

// chattr +i on the instances dir: even root cannot create the temp file there. Undone on every
// path out of the test, or the temp dir could not be removed.
class Immutable {
  public:
    Immutable(std::filesystem::path dir, const std::filesystem::path& scratch)
        : dir_(std::move(dir)), scratch_(scratch) {
        ok_ = runCommand({"chattr", "+i", dir_.string()}, 10s, scratch_).status == 0;
    }
    ~Immutable() {
        if (ok_) runCommand({"chattr", "-i", dir_.string()}, 10s, scratch_);
    }
    bool ok() const { return ok_; }

  private:
    std::filesystem::path dir_;
    std::filesystem::path scratch_;
    bool ok_ = false;
};

TEST_F(PersistGuest, RebootKeepsHotpluggedDevicesAndPersistWritesTheDefinition) {
    GuestOptions options;
    options.machine = "q35";
    options.shutdownTimeout = "10s";
    writeGuest("vm1", options);
    startCorrald();
    ASSERT_EQ(call("vm1", "Start").status, 0) << corraldLog();
    waitForAgent("vm1");

    auto disk =
        call("vm1", "AttachDisk", {"ssa{sv}", "data0", image("data0.img", 64 << 20).string(), "0"});
    ASSERT_EQ(disk.status, 0) << disk.output << corraldLog();
    auto nic = call("vm1", "AttachNic",
                    {"sa{sv}", "net1", "2", "mode", "s", "user", "mac", "s", "52:54:00:c0:ff:ee"});
    ASSERT_EQ(nic.status, 0) << nic.output << corraldLog();
    ASSERT_TRUE(waitGuest("vm1", "cat /sys/block/vd*/size", "131072")) << corraldLog();
    ASSERT_TRUE(waitGuest("vm1", "cat /sys/class/net/*/address", "52:54:00:c0:ff:ee"));

    auto before = pid("vm1");
    auto reboot = call("vm1", "Reboot");
    ASSERT_EQ(reboot.status, 0) << reboot.output << corraldLog();
    EXPECT_NE(pid("vm1"), before);
    EXPECT_EQ(property("vm1", "LastExit"), "s \"reboot\"");
    auto devices = property("vm1", "Devices");
    EXPECT_NE(devices.find("\"data0\" \"disk\""), std::string::npos) << devices;
    EXPECT_NE(devices.find("\"net1\" \"nic\""), std::string::npos) << devices;
    // Known to the new qemu's hotplug bookkeeping as they are, not found and adopted again.
    EXPECT_EQ(devices.find("\"net1\""), devices.rfind("\"net1\"")) << devices;
    EXPECT_EQ(corraldLog().find("adopted"), std::string::npos) << corraldLog();
    waitForAgent("vm1");
    EXPECT_TRUE(waitGuest("vm1", "cat /sys/block/vd*/size", "131072")) << corraldLog();
    EXPECT_TRUE(waitGuest("vm1", "cat /sys/class/net/*/address", "52:54:00:c0:ff:ee"));

    // The new qemu knows them as hotplugged: they detach as before the reboot.
    auto detach = call("vm1", "Detach", {"s", "data0"});
    EXPECT_EQ(detach.status, 0) << detach.output << corraldLog();
    EXPECT_TRUE(waitGuest("vm1", "cat /sys/block/vd*/size", "131072", false));

    // attach --persist: live, and appended to the file with everything before it kept.
    auto file = dir_ / "instances" / "vm1.toml";
    auto original = readFile(file);
    auto persisted = ctl({"attach", "vm1", "disk", "data1", "--option",
                          "path=" + image("data1.img", 32 << 20).string(), "--persist"});
    ASSERT_EQ(persisted.status, 0) << persisted.output << corraldLog();
    auto written = readFile(file);
    EXPECT_EQ(written.substr(0, original.size()), original);
    EXPECT_EQ(written.substr(original.size()),
              "\n[[disk]]\nid = \"data1\"\npath = \"" + (dir_ / "data1.img").string() + "\"\n");
    EXPECT_TRUE(waitGuest("vm1", "cat /sys/block/vd*/size", "65536")) << corraldLog();

    // A definition corrald cannot rewrite: refused with the reason, the VM untouched (with a
    // free hotplug slot, so that the attach itself would succeed).
    ASSERT_EQ(call("vm1", "Detach", {"s", "net1"}).status, 0) << corraldLog();
    {
        Immutable frozen(dir_ / "instances", dir_.path());
        if (frozen.ok()) {
            auto refused = ctl({"attach", "vm1", "disk", "data2", "--option",
                                "path=" + image("data2.img", 16 << 20).string(), "--persist"});
            EXPECT_NE(refused.status, 0);
            EXPECT_NE(refused.output.find("cannot create a temporary file in " +
                                          (dir_ / "instances").string()),
                      std::string::npos)
                << refused.output;
            EXPECT_EQ(property("vm1", "Devices").find("data2"), std::string::npos);
            EXPECT_EQ(readFile(file), written);
        } else {
            ADD_FAILURE() << "chattr +i failed on " << (dir_ / "instances");
        }
    }

    // Stop and start: the persisted disk is there, from the definition.
    ASSERT_EQ(call("vm1", "Shutdown", {"t", "0"}).status, 0) << corraldLog();
    ASSERT_EQ(call("vm1", "Start").status, 0) << corraldLog();
    devices = property("vm1", "Devices");
    EXPECT_NE(devices.find("\"data1\" \"disk\""), std::string::npos) << devices;
    waitForAgent("vm1");
    EXPECT_TRUE(waitGuest("vm1", "cat /sys/block/vd*/size", "65536")) << corraldLog();

    // detach --persist of what is now a boot-time disk: out of the definition, byte for byte
    // the file of before.
    auto removed = ctl({"detach", "vm1", "data1", "--persist"});
    EXPECT_EQ(removed.status, 0) << removed.output << corraldLog();
    EXPECT_EQ(readFile(file), original);
    EXPECT_EQ(call("vm1", "Kill").status, 0);
}

}  // namespace
}  // namespace corral::test

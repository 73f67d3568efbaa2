// Boots the real guest image under TCG on both machine types and checks that it reaches
// userspace, sees both negotiator ports by name, and powers off.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include "tests/support/process.hpp"
#include "tests/support/serial_console.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;

class GuestBoot : public ::testing::TestWithParam<std::string> {};

TEST_P(GuestBoot, ReachesUserspaceSeesPortsAndPowersOff) {
    TempDir dir;
    auto args = guestQemuArgs(GetParam());
    auto serial = (dir / "serial.sock").string();
    std::vector<std::string> extra = {
        "-chardev", "socket,id=serial0,path=" + serial + ",server=on,wait=off",
        "-serial",  "chardev:serial0",
        "-device",  "virtio-serial-pci,id=vs0",
        "-chardev", "socket,id=h2g,path=" + (dir / "h2g.sock").string() + ",server=on,wait=off",
        "-device",  "virtserialport,bus=vs0.0,chardev=h2g,name=negotiator-host-to-guest.0",
        "-chardev", "socket,id=g2h,path=" + (dir / "g2h.sock").string() + ",server=on,wait=off",
        "-device",  "virtserialport,bus=vs0.0,chardev=g2h,name=negotiator-guest-to-host.0"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto qemu = Process::spawn(args, dir / "qemu.log");

    ASSERT_TRUE(waitForPath(serial, 10s));
    SerialConsole console(serial);
    auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(console.waitFor(std::regex("corral-guest: userspace ready"), 60s))
        << console.transcript();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    RecordProperty("time_to_userspace_ms", static_cast<int>(ms.count()));
    std::printf("[ guest ] %s: userspace after %lld ms\n", GetParam().c_str(),
                static_cast<long long>(ms.count()));

    auto ports = console.run("cat /sys/class/virtio-ports/*/name", 20s);
    ASSERT_TRUE(ports) << console.transcript();
    EXPECT_EQ(ports->status, 0);
    EXPECT_NE(ports->text.find("negotiator-host-to-guest.0"), std::string::npos) << ports->text;
    EXPECT_NE(ports->text.find("negotiator-guest-to-host.0"), std::string::npos) << ports->text;

    console.send("poweroff -f\n");
    auto status = qemu.wait(30s);
    ASSERT_TRUE(status) << "qemu did not exit after guest poweroff";
    EXPECT_TRUE(WIFEXITED(*status));
    EXPECT_EQ(WEXITSTATUS(*status), 0);
}

INSTANTIATE_TEST_SUITE_P(Machines, GuestBoot, ::testing::Values("q35", "pc"));

}  // namespace
}  // namespace corral::test

// The built-in commands of the real guest image under TCG, called over the host-to-guest port the
// way a python-negotiator host calls them: each name, and answers in the original's formats.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>

#include "agent/host_channel.hpp"
#include "tests/integration/agent/guest_vm.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::test {
namespace {

using namespace std::chrono_literals;

class BuiltinCommandsGuest : public ::testing::Test {
  protected:
    void SetUp() override {
        auto disk = scratch_ / "data.img";
        std::ofstream(disk).close();
        std::filesystem::resize_file(disk, 8 * 1024 * 1024);
        vm_ = std::make_unique<GuestVm>(
            "pc", std::vector<std::string>{
                      "-drive", "file=" + disk.string() + ",if=none,id=data,format=raw", "-device",
                      "virtio-blk-pci,drive=data", "-netdev", "user,id=net0", "-device",
                      "virtio-net-pci,netdev=net0"});
        channel_ = agent::HostChannel::create(io_.get_executor(), vm_->hostToGuest());
    }
    agent::Result<std::string> execute(std::string name) {
        return runOn(io_, channel_->execute({std::move(name)}, std::nullopt, 30s));
    }

    TempDir scratch_;
    boost::asio::io_context io_;
    std::unique_ptr<GuestVm> vm_;
    std::shared_ptr<agent::HostChannel> channel_;
};

TEST_F(BuiltinCommandsGuest, ReportTheGuestsDistributionAddressesAndDisks) {
    auto mounted = vm_->console().run(
        "mkdosfs /dev/vda >/dev/null && mkdir -p /mnt/data && mount -t vfat /dev/vda /mnt/data",
        30s);
    ASSERT_TRUE(mounted && mounted->status == 0) << vm_->console().transcript();

    // From the image's /etc/os-release (ID=corral): one line each, as lsb_release --short.
    for (auto [name, expected] : {std::pair{"find-distributor-id", "Corral"},
                                  {"find-distribution-release", "1"},
                                  {"find-distribution-codename", "busybox"}}) {
        auto answer = execute(name);
        ASSERT_TRUE(answer) << name << ": " << answer.error().message;
        EXPECT_EQ(*answer, expected) << name;
    }

    // IPv4 in CIDR notation, loopback first: two lines, so the text comes back unstripped.
    auto addresses = execute("find-ip-addresses");
    ASSERT_TRUE(addresses) << addresses.error().message;
    EXPECT_EQ(*addresses, "127.0.0.1/8\n10.0.2.15/24\n");

    // DEVICE MOUNTPOINT TOTAL USED, in bytes; only block devices (/dev/...), so only the disk.
    auto usage = execute("find-disk-usage");
    ASSERT_TRUE(usage) << usage.error().message;
    std::smatch match;
    ASSERT_TRUE(std::regex_match(*usage, match, std::regex("/dev/vda /mnt/data (\\d+) (\\d+)")))
        << *usage;
    auto total = std::stoull(match[1]);
    EXPECT_GT(total, 7u * 1024 * 1024);
    EXPECT_LE(total, 8u * 1024 * 1024);
    EXPECT_LT(std::stoull(match[2]), total);
}

}  // namespace
}  // namespace corral::test

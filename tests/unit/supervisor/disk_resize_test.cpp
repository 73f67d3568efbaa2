// ResizeDisk's rules without a VM: the D-Bus arguments (supervisor/disk_args) and what the
// device record and QEMU's current size allow (hypervisor/disk_resize).
#include <gtest/gtest.h>

#include "hypervisor/device.hpp"
#include "hypervisor/disk_resize.hpp"
#include "supervisor/disk_args.hpp"

namespace corral::supervisor {
namespace {

hypervisor::Device deviceOf(const char* kind, const char* id, bool readonly = false) {
    hypervisor::Device device;
    device.id = id;
    device.kind = hypervisor::findKind(kind);
    device.options.emplace("readonly", readonly);
    return device;
}

TEST(ResizeArguments, WholeSectorsUpToQemusLargestImage) {
    EXPECT_FALSE(checkResizeArguments("data", 512));
    EXPECT_FALSE(checkResizeArguments("data", 10ull << 30));
    EXPECT_FALSE(checkResizeArguments("data", kMaxDiskBytes));
    struct Case {
        std::uint64_t bytes;
        const char* text;
    };
    for (auto c : {Case{0, "ResizeDisk: 0 bytes is no size for a disk."},
                   Case{1000,
                        "ResizeDisk: 1000 bytes is not a multiple of 512 (QEMU sizes disks "
                        "in 512-byte sectors)."},
                   Case{kMaxDiskBytes + 512, "is more than QEMU's largest image"}}) {
        auto bad = checkResizeArguments("data", c.bytes);
        ASSERT_TRUE(bad) << c.bytes;
        EXPECT_EQ(bad->kind, ErrorKind::InvalidArgument);
        EXPECT_NE(bad->message.find(c.text), std::string::npos) << bad->message;
    }
    auto id = checkResizeArguments("../x", 512);
    ASSERT_TRUE(id);
    EXPECT_NE(id->message.find("Bad device id"), std::string::npos) << id->message;
}

TEST(ResizeRefusal, OnlyWritableDisks) {
    EXPECT_FALSE(hypervisor::resizeRefusal(deviceOf("disk", "data")));
    EXPECT_EQ(hypervisor::resizeRefusal(deviceOf("disk", "ro", true)),
              "disk ro is read-only; it cannot grow");
    EXPECT_EQ(hypervisor::resizeRefusal(deviceOf("cdrom", "cd0")),
              "cd0 is a cdrom, not a disk; only disks can be resized");
    EXPECT_EQ(hypervisor::resizeRefusal(deviceOf("nic", "net0")),
              "net0 is a nic, not a disk; only disks can be resized");
}

TEST(ResizeRefusal, GrowsOnly) {
    EXPECT_FALSE(hypervisor::sizeRefusal("data", 1024, 2048));
    auto same = hypervisor::sizeRefusal("data", 2048, 2048);
    ASSERT_TRUE(same);
    EXPECT_TRUE(same->alreadyThere);
    EXPECT_EQ(same->reason, "disk data already has 2048 bytes");
    auto shrink = hypervisor::sizeRefusal("data", 2048, 1024);
    ASSERT_TRUE(shrink);
    EXPECT_FALSE(shrink->alreadyThere);
    EXPECT_EQ(shrink->reason,
              "disk data has 2048 bytes; shrinking it to 1024 is refused (data beyond the new end "
              "would be lost)");
}

}  // namespace
}  // namespace corral::supervisor

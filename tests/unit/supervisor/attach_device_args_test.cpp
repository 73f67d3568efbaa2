// AttachDevice(s kind, s id, a{sv} options): the options of a kind are read against its schema,
// the same keys, types, rules and defaults as its TOML table.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "supervisor/dbus_args.hpp"

namespace corral::supervisor {
namespace {

using ::testing::HasSubstr;

OptionEntry text(std::string key, std::string value) {
    return {std::move(key), "s", std::move(value), false};
}

OptionEntry flag(std::string key, bool value) {
    return {std::move(key), "b", "", value};
}

std::string refusal(std::string_view kind, std::string_view id, const OptionDict& options) {
    auto result = validateAttachDevice(kind, id, options);
    EXPECT_FALSE(result) << kind << " " << id << " was accepted";
    if (result) return {};
    EXPECT_EQ(result.error().kind, ErrorKind::InvalidArgument);
    return result.error().message;
}

TEST(AttachDeviceArgs, DiskTakesEveryKeyOfItsTomlTableWithItsDefaults) {
    auto plain = validateAttachDevice("disk", "d1", {text("path", "/srv/d1.qcow2")});
    ASSERT_TRUE(plain) << plain.error().message;
    EXPECT_EQ(plain.value().kindName(), "disk");
    EXPECT_EQ(plain.value().id, "d1");
    EXPECT_EQ(plain.value().options, (hypervisor::Options{{"path", "/srv/d1.qcow2"},
                                                          {"format", "raw"},
                                                          {"readonly", false},
                                                          {"cache", "writeback"},
                                                          {"bus", "virtio"},
                                                          {"discard", "ignore"},
                                                          {"aio", "threads"},
                                                          {"iothread", false}}));
    auto every = validateAttachDevice("disk", "d1",
                                      {text("path", "/srv/d1.img"), text("format", "qcow2"),
                                       flag("readonly", true), text("cache", "none")});
    ASSERT_TRUE(every) << every.error().message;
    EXPECT_EQ(every.value().text("cache"), "none");
    EXPECT_TRUE(every.value().flag("readonly"));
    // AttachDisk keeps its own narrower dictionary.
    auto narrow = validateAttachDisk("d1", "/srv/d1.img", {text("cache", "none")});
    ASSERT_FALSE(narrow);
}

TEST(AttachDeviceArgs, NicIsWhatAttachNicTakes) {
    OptionDict options{text("mode", "bridge"), text("bridge", "br0"),
                       text("mac", "52:54:00:AA:00:01")};
    auto generic = validateAttachDevice("nic", "n1", options);
    auto legacy = validateAttachNic("n1", options);
    ASSERT_TRUE(generic) << generic.error().message;
    ASSERT_TRUE(legacy) << legacy.error().message;
    EXPECT_EQ(generic.value().options, legacy.value().options);
    EXPECT_EQ(generic.value().text("mac"), "52:54:00:aa:00:01");
}

TEST(AttachDeviceArgs, RngTakesAnEntropySource) {
    auto plain = validateAttachDevice("rng", "r1", {});
    ASSERT_TRUE(plain) << plain.error().message;
    EXPECT_EQ(plain.value().options, (hypervisor::Options{{"backend", "/dev/urandom"}}));
    auto given = validateAttachDevice("rng", "r1", {text("backend", "/dev/hwrng")});
    ASSERT_TRUE(given) << given.error().message;
    EXPECT_EQ(given.value().text("backend"), "/dev/hwrng");
    EXPECT_EQ(refusal("rng", "r1", {text("backend", "urandom")}),
              "Entropy source \"urandom\" must be absolute.");
    EXPECT_EQ(refusal("rng", "r1", {flag("backend", true)}),
              "Option \"backend\" must be a string (D-Bus type s), not a boolean.");
}

TEST(AttachDeviceArgs, DiskBusDiscardAioIothreadAndNicModel) {
    auto disk = validateAttachDevice(
        "disk", "d1",
        {text("path", "/dev/vg0/lv"), text("bus", "scsi"), text("discard", "unmap"),
         text("aio", "io_uring"), flag("iothread", true)});
    ASSERT_TRUE(disk) << disk.error().message;
    EXPECT_EQ(disk.value().driver(), "scsi-hd");
    EXPECT_EQ(disk.value().text("aio"), "io_uring");
    auto nic = validateAttachDevice("nic", "n1", {text("model", "e1000e")});
    ASSERT_TRUE(nic) << nic.error().message;
    EXPECT_EQ(nic.value().driver(), "e1000e");
    EXPECT_EQ(refusal("disk", "d1", {text("path", "/d.img"), text("aio", "native")}),
              "Option \"aio\": aio \"native\" needs cache \"none\" (Linux native AIO only runs "
              "asynchronously on files opened with O_DIRECT); cache is \"writeback\".");
    EXPECT_EQ(refusal("disk", "d1", {text("path", "/d.img"), text("bus", "ide")}),
              "Option 'bus' is \"ide\", which is not one of virtio, scsi, sata.");
    EXPECT_EQ(refusal("nic", "n1", {text("model", "rtl8139")}),
              "Option 'model' is \"rtl8139\", which is not one of virtio, e1000e.");
}

TEST(AttachDeviceArgs, RefusesWithASentenceNamingTheProblem) {
    EXPECT_THAT(refusal("floppy", "f1", {}), HasSubstr("Unknown device kind \"floppy\""));
    EXPECT_THAT(refusal("root-port", "r1", {}), HasSubstr("Unknown device kind \"root-port\""));
    EXPECT_THAT(refusal("nic", "corral-x", {}), HasSubstr("device id"));
    EXPECT_EQ(refusal("disk", "d1", {}), "Option \"path\" is required (the disk path).");
    EXPECT_EQ(refusal("disk", "d1", {text("path", "d.img")}),
              "Disk path \"d.img\" must be absolute.");
    EXPECT_EQ(
        refusal("disk", "d1", {text("path", "/d.img"), text("vlan", "7")}),
        "Unknown option \"vlan\" for AttachDevice(\"disk\"); it takes path (s), format (s), "
        "readonly (b), cache (s), bus (s), discard (s), aio (s), iothread (b), bps_total (s), "
        "bps_rd (s), bps_wr (s), iops_total (s), iops_rd (s), iops_wr (s), bps_total_max "
        "(s), bps_rd_max (s), bps_wr_max (s), iops_total_max (s), iops_rd_max (s), "
        "iops_wr_max (s), throttle_group (s).");
    EXPECT_THAT(refusal("disk", "d1", {text("path", "/d.img"), text("readonly", "true")}),
                HasSubstr("must be a boolean (D-Bus type b)"));
    EXPECT_EQ(refusal("disk", "d1", {text("path", "/d.img"), text("cache", "directsync")}),
              "Option 'cache' is \"directsync\", which is not one of none, writeback, unsafe.");
    EXPECT_EQ(refusal("nic", "n1", {text("mode", "bridge")}),
              "Mode \"bridge\" needs the option \"bridge\" (the bridge name).");
    OptionDict many;
    for (int i = 0; i <= 24; ++i) many.push_back(text("k" + std::to_string(i), ""));
    EXPECT_THAT(refusal("nic", "n1", many), HasSubstr("at most 24 options"));
}

}  // namespace
}  // namespace corral::supervisor

// Snapshots without a VM: names, the chain record and its file format, how a disk maps to the
// top of its chain, the revert and delete plans, and the QMP arguments in QEMU 7.2's shapes
// (transaction / blockdev-snapshot, blockdev-add qcow2 without backing, block-commit).
#include <gtest/gtest.h>

#include "monitor/json.hpp"
#include "supervisor/snapshot_plan.hpp"
#include "supervisor/snapshot_record.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::supervisor {
namespace {

hypervisor::Device disk(const char* id, const char* path, bool readonly = false,
                        const char* kind = "disk") {
    hypervisor::Device device;
    device.id = id;
    device.kind = hypervisor::findKind(kind);
    device.options.emplace("path", std::string(path));
    device.options.emplace("format", std::string("raw"));
    device.options.emplace("readonly", readonly);
    return device;
}

// s1 over the definition's images, then s2 over s1's overlays.
SnapshotChain twoSnapshots() {
    SnapshotChain chain;
    std::vector<hypervisor::Device> devices = {disk("a", "/img/a.raw"), disk("b", "/img/b.raw")};
    auto s1 = newSnapshot(chain, "s1", devices, "/state/vm", 100);
    chain.snapshots.push_back(s1);
    chain.nextSeq = 2;
    useChain(devices, chain);
    auto s2 = newSnapshot(chain, "s2", devices, "/state/vm", 200);
    chain.snapshots.push_back(s2);
    chain.nextSeq = 3;
    return chain;
}

TEST(SnapshotName, LettersDigitsAndThreeMarks) {
    EXPECT_FALSE(snapshotNameProblem("before-upgrade_2.1"));
    EXPECT_FALSE(snapshotNameProblem(std::string(32, 'x')));
    EXPECT_EQ(*snapshotNameProblem(""), "a snapshot name is not empty");
    EXPECT_NE(snapshotNameProblem(std::string(33, 'x'))->find("longer than 32 characters"),
              std::string::npos);
    for (const char* bad : {"a/b", "../x", ".hidden", "-x", "a b", "é"})
        EXPECT_NE(snapshotNameProblem(bad)->find("may have only A-Z a-z 0-9 _ - ."),
                  std::string::npos)
            << bad;
}

TEST(SnapshotRecord, TakesWritableDisksOnly) {
    std::vector<hypervisor::Device> devices = {disk("a", "/img/a.raw"),
                                               disk("ro", "/img/ro.raw", true),
                                               disk("cd", "/iso/x.iso", true, "cdrom")};
    auto record = newSnapshot(SnapshotChain{}, "s1", devices, "/state/vm", 42);
    ASSERT_EQ(record.disks.size(), 1u);
    EXPECT_EQ(record.disks[0].disk, "a");
    EXPECT_EQ(record.disks[0].base, "/img/a.raw");
    EXPECT_EQ(record.disks[0].baseFormat, "raw");
    EXPECT_EQ(record.disks[0].overlay, "/state/vm/snapshots/s1.a.qcow2");
    EXPECT_EQ(record.createdUsec, 42u);
    EXPECT_EQ(record.seq, 1u);
}

TEST(SnapshotRecord, FileRoundTripsAndRefusesWhatIsNotARecord) {
    auto chain = twoSnapshots();
    std::string error;
    auto back = chainFromJson(chainToJson(chain), error);
    ASSERT_TRUE(back) << error;
    ASSERT_EQ(back->snapshots.size(), 2u);
    EXPECT_EQ(back->nextSeq, 3u);
    EXPECT_EQ(back->snapshots[1].disks[1].base, "/state/vm/snapshots/s1.b.qcow2");
    EXPECT_EQ(back->snapshots[1].disks[1].baseFormat, "qcow2");
    EXPECT_EQ(back->snapshots[1].createdUsec, 200u);

    EXPECT_FALSE(chainFromJson("[]", error));
    EXPECT_EQ(error, "not a snapshot record (an object with next_seq and snapshots)");
    EXPECT_FALSE(chainFromJson(R"({"next_seq":1,"snapshots":[{"name":"a/b"}]})", error));
    EXPECT_EQ(error, "a snapshot without a valid name");
    EXPECT_FALSE(chainFromJson(
        R"({"next_seq":1,"snapshots":[{"name":"s","created_usec":1,"seq":1,"disks":[{}]}]})",
        error));
    EXPECT_EQ(error, "snapshot s has a disk without disk, base, base_format or overlay");
    std::string twice = R"({"name":"s","created_usec":1,"seq":1,"disks":[]})";
    EXPECT_FALSE(
        chainFromJson(R"({"next_seq":2,"snapshots":[)" + twice + "," + twice + "]}", error));
    EXPECT_EQ(error, "snapshot s is there twice");

    test::TempDir dir;
    auto none = readChain(dir.path(), error);
    ASSERT_TRUE(none) << error;
    EXPECT_TRUE(none->snapshots.empty());
    ASSERT_FALSE(writeChain(dir.path(), chain));
    auto read = readChain(dir.path(), error);
    ASSERT_TRUE(read) << error;
    EXPECT_EQ(chainToJson(*read), chainToJson(chain));
}

TEST(SnapshotRecord, ADiskOfTheChainRunsOnItsTop) {
    auto chain = twoSnapshots();
    EXPECT_EQ(chain.topOf("a"), "/state/vm/snapshots/s2.a.qcow2");
    EXPECT_EQ(chain.topOf("c"), "");
    // The definition's path, an overlay of the chain (a Reboot's record): the top.
    std::vector<hypervisor::Device> devices = {
        disk("a", "/img/a.raw"), disk("b", "/state/vm/snapshots/s1.b.qcow2"),
        disk("c", "/img/c.raw"), disk("ro", "/img/ro.raw", true)};
    EXPECT_EQ(useChain(devices, chain), 2);
    EXPECT_EQ(devices[0].text("path"), "/state/vm/snapshots/s2.a.qcow2");
    EXPECT_EQ(devices[0].text("format"), "qcow2");
    EXPECT_EQ(devices[0].backend, "/state/vm/snapshots/s2.a.qcow2");
    EXPECT_EQ(devices[1].text("path"), "/state/vm/snapshots/s2.b.qcow2");
    EXPECT_EQ(devices[2].text("path"), "/img/c.raw");
    // A definition that now names another image for disk a leaves the chain alone.
    std::vector<hypervisor::Device> moved = {disk("a", "/img/new.raw")};
    EXPECT_EQ(useChain(moved, chain), 0);
    EXPECT_EQ(moved[0].text("path"), "/img/new.raw");
    EXPECT_EQ(moved[0].text("format"), "raw");
}

TEST(SnapshotPlan, RevertDropsTheLaterSnapshots) {
    auto chain = twoSnapshots();
    auto kept = chainUpTo(chain, "s1");
    ASSERT_EQ(kept.snapshots.size(), 1u);
    EXPECT_EQ(kept.nextSeq, 3u) << "node names are never reused";
    EXPECT_EQ(overlaysAfter(chain, "s1"),
              (std::vector<std::string>{"/state/vm/snapshots/s2.a.qcow2",
                                        "/state/vm/snapshots/s2.b.qcow2"}));
    EXPECT_TRUE(overlaysAfter(chain, "s2").empty());
    EXPECT_EQ(chainUpTo(chain, "s2").snapshots.size(), 2u);
}

TEST(SnapshotPlan, DeleteMergesEachOverlayIntoTheImageBelow) {
    auto chain = twoSnapshots();
    // The older one: s1's overlays merge into the definition's images, s2's rebase onto them.
    auto first = mergeSteps(chain, "s1");
    ASSERT_EQ(first.size(), 2u);
    EXPECT_EQ(first[0].layer.overlay, "/state/vm/snapshots/s1.a.qcow2");
    EXPECT_EQ(first[0].layer.base, "/img/a.raw");
    EXPECT_EQ(first[0].above, "/state/vm/snapshots/s2.a.qcow2");
    auto after = afterMerge(chain, "s1");
    ASSERT_EQ(after.snapshots.size(), 1u);
    EXPECT_EQ(after.snapshots[0].name, "s2");
    EXPECT_EQ(after.snapshots[0].disks[0].base, "/img/a.raw");
    EXPECT_EQ(after.snapshots[0].disks[0].baseFormat, "raw");
    // The newest: its overlays are the active images, nothing above them.
    auto last = mergeSteps(chain, "s2");
    ASSERT_EQ(last.size(), 2u);
    EXPECT_EQ(last[1].above, "");
    EXPECT_EQ(afterMerge(chain, "s2").topOf("b"), "/state/vm/snapshots/s1.b.qcow2");
    EXPECT_TRUE(mergeSteps(chain, "nope").empty());
}

TEST(SnapshotQmp, ArgumentsHaveQemuShapes) {
    EXPECT_EQ(monitor::toJsonString(overlayFileArgs("data", 3, 7)),
              R"({"driver":"file","node-name":"data.s3f","filename":"/dev/fdset/7"})");
    EXPECT_EQ(monitor::toJsonString(overlayFormatArgs("data", 3)),
              R"({"driver":"qcow2","node-name":"data.s3","file":"data.s3f","backing":null})");
    EXPECT_EQ(monitor::toJsonString(
                  snapshotTransaction({{"data-format", "data.s3"}, {"log.s2", "log.s3"}})),
              R"({"actions":[{"type":"blockdev-snapshot","data":{"node":"data-format",)"
              R"("overlay":"data.s3"}},{"type":"blockdev-snapshot","data":{"node":"log.s2",)"
              R"("overlay":"log.s3"}}]})");
    // Active commit: no top-node, no backing-file (QEMU refuses it for the active layer).
    EXPECT_EQ(
        monitor::toJsonString(commitArgs("j", "data.s3", "data.s3", "data-format", "/a")),
        R"({"job-id":"j","device":"data.s3","base-node":"data-format","auto-dismiss":false})");
    EXPECT_EQ(monitor::toJsonString(commitArgs("j", "data.s3", "data.s2", "data-format", "/a")),
              R"({"job-id":"j","device":"data.s3","base-node":"data-format","auto-dismiss":false,)"
              R"("top-node":"data.s2","backing-file":"/a"})");
}

TEST(SnapshotQmp, NodesByNameFirstThenByFile) {
    auto nodes =
        monitor::parseJson(R"([{"node-name":"data-file","drv":"file","file":"/img/a.raw"},)"
                           R"({"node-name":"data-format","drv":"raw","file":"/img/a.raw"},)"
                           R"({"node-name":"data.s1","drv":"qcow2","file":"/dev/fdset/3"}])");
    ASSERT_TRUE(nodes);
    EXPECT_EQ(findNode(*nodes, "data.s1", "/state/x.qcow2"), "data.s1");
    EXPECT_EQ(findNode(*nodes, "data.s9", "/img/a.raw"), "data-format");
    EXPECT_EQ(findNode(*nodes, "data.s9", "/img/none.raw"), "");
}

}  // namespace
}  // namespace corral::supervisor

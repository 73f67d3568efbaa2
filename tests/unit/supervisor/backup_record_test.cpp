// Backups without a VM: the plan (disks, target files, bitmaps, backing files and every
// refusal), the record and its file, and the QMP arguments in QEMU 7.2's shapes (transaction of
// block-dirty-bitmap-add + blockdev-backup, the target's blockdev-add, query-block's active node).
#include <gtest/gtest.h>

#include <fstream>

#include "monitor/json.hpp"
#include "supervisor/backup_record.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::supervisor {
namespace {

hypervisor::Device disk(const char* id, const char* format, bool readonly = false,
                        const char* kind = "disk") {
    hypervisor::Device device;
    device.id = id;
    device.kind = hypervisor::findKind(kind);
    device.options.emplace("path", std::string("/img/") + id);
    device.options.emplace("format", std::string(format));
    device.options.emplace("readonly", readonly);
    return device;
}

std::vector<hypervisor::Device> devices() {
    return {disk("a", "qcow2"), disk("b", "qcow2"), disk("raw", "raw"), disk("ro", "qcow2", true),
            disk("cd", "raw", true, "cdrom")};
}

BackupRequest request(const std::string& target, bool incremental, std::vector<std::string> disks) {
    BackupRequest r;
    r.target = target;
    r.incremental = incremental;
    r.disks = std::move(disks);
    return r;
}

TEST(BackupPlan, FullThenIncrementalChainsFilesAndBitmaps) {
    test::TempDir dir;
    BackupRecord record;
    auto full = planBackup(record, request(dir.path(), false, {"a", "b"}), devices(), 10);
    ASSERT_TRUE(full) << full.error().message;
    ASSERT_EQ(full.value().steps.size(), 2u);
    const auto& a = full.value().steps[0];
    EXPECT_EQ(a.file, (dir.path() / "a.c1.qcow2").string());
    EXPECT_EQ(a.newBitmap, "corral-c1");
    EXPECT_EQ(a.oldBitmap, "");
    EXPECT_EQ(a.backing, "");
    EXPECT_EQ(full.value().checkpoint.mode, "full");

    record = afterBackup(record, full.value());
    EXPECT_EQ(record.nextSeq, 2u);
    EXPECT_FALSE(record.pending);
    auto inc = planBackup(record, request(dir.path(), true, {"a"}), devices(), 20);
    ASSERT_TRUE(inc) << inc.error().message;
    ASSERT_EQ(inc.value().steps.size(), 1u);
    EXPECT_EQ(inc.value().steps[0].file, (dir.path() / "a.c2.qcow2").string());
    EXPECT_EQ(inc.value().steps[0].backing, "a.c1.qcow2") << "relative: beside it";
    EXPECT_EQ(inc.value().steps[0].oldBitmap, "corral-c1");
    EXPECT_EQ(inc.value().steps[0].newBitmap, "corral-c2");

    // Into another directory: the backing file is named by its full path.
    test::TempDir other;
    auto elsewhere = planBackup(record, request(other.path(), true, {"b"}), devices(), 30);
    ASSERT_TRUE(elsewhere);
    EXPECT_EQ(elsewhere.value().steps[0].backing, (dir.path() / "b.c1.qcow2").string());
}

TEST(BackupPlan, EveryWritableQcow2DiskByDefault) {
    test::TempDir dir;
    std::vector<hypervisor::Device> qcow2Only = {disk("a", "qcow2"), disk("ro", "qcow2", true),
                                                 disk("cd", "raw", true, "cdrom")};
    auto plan = planBackup({}, request(dir.path(), false, {}), qcow2Only, 1);
    ASSERT_TRUE(plan);
    ASSERT_EQ(plan.value().steps.size(), 1u);
    EXPECT_EQ(plan.value().steps[0].disk, "a");
}

TEST(BackupPlan, RefusalsSayWhat) {
    test::TempDir dir;
    auto refused = [&](BackupRecord record, BackupRequest r, ErrorKind kind,
                       const std::string& text) {
        auto plan = planBackup(record, r, devices(), 1);
        ASSERT_FALSE(plan);
        EXPECT_EQ(plan.error().kind, kind) << plan.error().message;
        EXPECT_NE(plan.error().message.find(text), std::string::npos) << plan.error().message;
        EXPECT_NE(plan.error().message.find("nothing was changed"), std::string::npos);
    };
    refused({}, request(dir.path(), false, {"nope"}), ErrorKind::InvalidArgument,
            "there is no disk nope");
    refused({}, request(dir.path(), false, {"a", "a"}), ErrorKind::InvalidArgument,
            "disk a is named twice");
    refused({}, request(dir.path(), false, {"ro"}), ErrorKind::InvalidArgument,
            "disk ro is read-only or a CD-ROM");
    refused({}, request(dir.path(), false, {"raw"}), ErrorKind::InvalidArgument,
            "disk raw is raw; the dirty bitmap a backup starts lives in a qcow2 image");
    refused({}, request(dir.path(), false, {}), ErrorKind::InvalidArgument, "disk raw is raw");
    refused({}, request(dir.path(), true, {"a"}), ErrorKind::InvalidState,
            "disk a has no backup yet; an incremental one needs a full one before it");
    std::ofstream(dir.path() / "a.c1.qcow2").close();
    refused({}, request(dir.path(), false, {"a"}), ErrorKind::Exists, "a.c1.qcow2 exists already");
}

TEST(BackupRecord, RoundTripsThroughItsFileWithAPendingBackup) {
    test::TempDir dir;
    std::string error;
    auto empty = readBackups(dir.path(), error);
    ASSERT_TRUE(empty) << error;
    EXPECT_TRUE(empty->checkpoints.empty());
    BackupRecord record;
    record.nextSeq = 3;
    record.checkpoints.push_back({"c1", 11, "full", "/b", {{"a", "/b/a.c1.qcow2"}}});
    record.checkpoints.push_back({"c2", 22, "incremental", "/b", {{"a", "/b/a.c2.qcow2"}}});
    record.pending = Checkpoint{"c3", 33, "incremental", "/b", {{"a", "/b/a.c3.qcow2"}}};
    ASSERT_FALSE(writeBackups(dir.path(), record));
    auto back = readBackups(dir.path(), error);
    ASSERT_TRUE(back) << error;
    EXPECT_EQ(backupsToJson(*back), backupsToJson(record));
    EXPECT_EQ(back->latestOf("a")->name, "c2");
    EXPECT_EQ(back->latestOf("b"), nullptr);
    ASSERT_TRUE(back->pending);
    EXPECT_EQ(back->pending->files[0].file, "/b/a.c3.qcow2");

    std::ofstream(dir.path() / "backups.json") << R"({"next_seq":1,"checkpoints":[{"name":"c1"}]})";
    EXPECT_FALSE(readBackups(dir.path(), error));
    EXPECT_NE(error.find("backups.json: a checkpoint lacks"), std::string::npos) << error;
}

TEST(BackupQmp, ArgumentsHaveQemuShapes) {
    EXPECT_EQ(
        monitor::toJsonString(targetFileArgs("data", 7)),
        R"({"driver":"file","node-name":"corral-backup-data-file","filename":"/dev/fdset/7"})");
    EXPECT_EQ(monitor::toJsonString(targetFormatArgs("data")),
              R"({"driver":"qcow2","node-name":"corral-backup-data",)"
              R"("file":"corral-backup-data-file","backing":null})");
    BackupPlan plan;
    plan.steps.push_back({"a", "/b/a.c1.qcow2", "", "corral-c1", ""});
    plan.steps.push_back({"b", "/b/b.c2.qcow2", "b.c1.qcow2", "corral-c2", "corral-c1"});
    plan.speed = 1048576;
    EXPECT_EQ(
        monitor::toJsonString(backupTransaction(plan, {"a-format", "b.s1"})),
        R"({"actions":[)"
        R"({"type":"block-dirty-bitmap-add","data":{"node":"a-format","name":"corral-c1","persistent":true}},)"
        R"({"type":"blockdev-backup","data":{"job-id":"corral-backup-a","device":"a-format",)"
        R"("target":"corral-backup-a","auto-dismiss":false,"speed":1048576,"sync":"full"}},)"
        R"({"type":"block-dirty-bitmap-add","data":{"node":"b.s1","name":"corral-c2","persistent":true}},)"
        R"({"type":"blockdev-backup","data":{"job-id":"corral-backup-b","device":"b.s1",)"
        R"("target":"corral-backup-b","auto-dismiss":false,"speed":1048576,"sync":"bitmap",)"
        R"("bitmap":"corral-c1","bitmap-mode":"never"}}]})");
    EXPECT_EQ(monitor::toJsonString(bitmapRemoveArgs("a-format", "corral-c1")),
              R"({"node":"a-format","name":"corral-c1"})");
}

TEST(BackupQmp, ActiveNodeFromQueryBlock) {
    // QEMU 7.2's query-block for -device virtio-blk-pci,id=data,drive=... after a snapshot.
    auto blocks = monitor::parseJson(
        R"([{"device":"","qdev":"/machine/peripheral/cd0/virtio-backend","locked":false},)"
        R"({"device":"","qdev":"/machine/peripheral/data/virtio-backend","inserted":)"
        R"({"node-name":"data.s1","image":{"virtual-size":67108864},)"
        R"("dirty-bitmaps":[{"name":"corral-c1","recording":true},{"name":"other"}]}}])");
    ASSERT_TRUE(blocks);
    auto active = activeNodeOf(*blocks, "data");
    ASSERT_TRUE(active);
    EXPECT_EQ(active->node, "data.s1");
    EXPECT_EQ(active->size, 67108864u);
    EXPECT_EQ(active->bitmaps, (std::vector<std::string>{"corral-c1", "other"}));
    EXPECT_FALSE(activeNodeOf(*blocks, "dat"));
    EXPECT_FALSE(activeNodeOf(*blocks, "cd0")) << "no medium";
    EXPECT_TRUE(isCorralBitmap("corral-c9"));
    EXPECT_FALSE(isCorralBitmap("other"));
}

}  // namespace
}  // namespace corral::supervisor

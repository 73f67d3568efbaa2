// Backups of a VM's disks, the pure part: the checkpoint record kept in
// <state_dir>/NAME/backups.json, the plan of a backup (which disks, which target file, which
// dirty bitmap starts and which one the copy reads) and the QMP arguments that carry it out
// (backup_live.cpp runs them, backup_vm.cpp drives the record).
//
// A checkpoint is a point in time some disks were copied at. Each of those disks got, at that
// instant, a persistent dirty bitmap "corral-<checkpoint>" in its qcow2 image, which records
// every write since. A full backup copies the whole disk; an incremental one copies what the
// disk's bitmap of its latest checkpoint marked, into a qcow2 whose backing file is that
// checkpoint's file of the disk. The bitmap of the previous checkpoint is removed only once
// the copy succeeded; on any failure the new bitmap goes instead, so no write is ever missed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hypervisor/device.hpp"
#include "monitor/json.hpp"
#include "supervisor/op_error.hpp"

namespace corral::supervisor {

struct BackupFile {
    std::string disk;  // device id
    std::string file;  // <target>/<disk>.<checkpoint>.qcow2
};

struct Checkpoint {
    std::string name;  // "c<seq>"
    std::uint64_t createdUsec = 0;
    std::string mode;  // "full" or "incremental"
    std::string target;
    std::vector<BackupFile> files;
};

struct BackupRecord {
    std::vector<Checkpoint> checkpoints;  // oldest first
    std::uint64_t nextSeq = 1;
    // A backup under way; a corrald that finds one at start ends it (backup_live.cpp).
    std::optional<Checkpoint> pending;

    // The latest checkpoint that copied disk `id`, null if none.
    const Checkpoint* latestOf(std::string_view id) const;
};

// The bitmap a checkpoint left in each of its disks' images.
std::string bitmapOf(std::string_view checkpoint);
// Whether `name` is a bitmap corral makes (a stray one is removed before a backup).
bool isCorralBitmap(std::string_view name);

std::filesystem::path backupFile(const std::filesystem::path& vmStateDir);
std::string backupsToJson(const BackupRecord& record);
std::optional<BackupRecord> backupsFromJson(std::string_view text, std::string& error);
// An empty record without the file; nullopt with `error` if unreadable.
std::optional<BackupRecord> readBackups(const std::filesystem::path& vmStateDir,
                                        std::string& error);
// Atomically, as definitions are written; the error sentence or nullopt.
std::optional<std::string> writeBackups(const std::filesystem::path& vmStateDir,
                                        const BackupRecord& record);

struct BackupRequest {
    std::string target;  // a directory
    bool incremental = false;
    std::vector<std::string> disks;  // empty: every writable disk
    std::uint64_t speed = 0;         // bytes/s per disk, 0: unlimited
};

// One disk of a backup.
struct BackupStep {
    std::string disk;
    std::string file;       // the target file, created by qemu-img
    std::string backing;    // an incremental's backing file (relative if beside it), or ""
    std::string newBitmap;  // starts at the copy's instant
    std::string oldBitmap;  // the previous checkpoint's: read by an incremental, removed after
};

struct BackupPlan {
    Checkpoint checkpoint;
    std::vector<BackupStep> steps;
    std::uint64_t speed = 0;
};

// The plan of `request` over `devices` (as the VM runs them) after `record`; the refusal says
// what is wrong (unknown disk, a disk not qcow2, an incremental without a full before, a
// target file that exists).
Outcome<BackupPlan> planBackup(const BackupRecord& record, const BackupRequest& request,
                               const std::vector<hypervisor::Device>& devices,
                               std::uint64_t nowUsec);
// The record after `plan` succeeded.
BackupRecord afterBackup(const BackupRecord& record, const BackupPlan& plan);

// Block node names of the target of disk `id` in QEMU (format node, file node) and the job.
std::string targetNode(std::string_view id);
std::string targetFileNode(std::string_view id);
std::string backupJob(std::string_view id);
// blockdev-add arguments of a target: its file on an fdset, its qcow2 node without backing.
monitor::Json targetFileArgs(std::string_view id, int fdset);
monitor::Json targetFormatArgs(std::string_view id);
// transaction arguments: per step, block-dirty-bitmap-add (persistent) of its new bitmap on
// `nodes[i]` (the disk's active node) and its blockdev-backup (sync full, or sync bitmap of
// the old bitmap with bitmap-mode never), all at one instant.
monitor::Json backupTransaction(const BackupPlan& plan, const std::vector<std::string>& nodes);
monitor::Json bitmapRemoveArgs(const std::string& node, const std::string& bitmap);

// From query-block's reply: the active node of disk `id` (its root after any snapshots), its
// virtual size and the names of its dirty bitmaps; nullopt if QEMU has no such disk.
struct ActiveNode {
    std::string node;
    std::uint64_t size = 0;
    std::vector<std::string> bitmaps;
};
std::optional<ActiveNode> activeNodeOf(const rapidjson::Value& blocks, std::string_view id);

}  // namespace corral::supervisor

namespace corral::supervisor {

// What a running backup shares with its VM: a cancel request, and the bytes copied so far.
struct BackupWatch {
    bool cancel = false;
    std::function<void(std::uint64_t done, std::uint64_t total)> progress;
};

}  // namespace corral::supervisor

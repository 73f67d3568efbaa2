// External snapshots of a VM's disks, the pure part: the chain record kept in
// <state_dir>/NAME/snapshots.json, the rules for snapshot names, which disks a snapshot takes,
// how a disk of the definition maps to the top of its chain, and the QMP arguments of a live
// snapshot (snapshot_live.cpp runs them, snapshot_vm.cpp drives the record).
//
// A snapshot freezes, for each writable disk, the image the VM wrote until then (`base`) and
// puts a new qcow2 overlay on it (`overlay`), which the VM writes from then on. Snapshots are a
// line: the Nth snapshot's base is the (N-1)th's overlay. A disk whose path is its first
// snapshot's base (the definition's image) or any overlay of its chain runs on the top overlay.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hypervisor/device.hpp"
#include "monitor/json.hpp"

namespace corral::supervisor {

struct SnapshotLayer {
    std::string disk;        // device id
    std::string base;        // the image frozen by the snapshot
    std::string baseFormat;  // its format ("raw", "qcow2")
    std::string overlay;     // the qcow2 on top of it, <dir>/snapshots/<snapshot>.<disk>.qcow2
};

struct SnapshotRecord {
    std::string name;
    std::uint64_t createdUsec = 0;  // CLOCK_REALTIME
    std::uint64_t seq = 0;          // names the overlays' block nodes in QEMU
    std::vector<SnapshotLayer> disks;
};

struct SnapshotChain {
    std::vector<SnapshotRecord> snapshots;  // oldest first
    std::uint64_t nextSeq = 1;

    const SnapshotRecord* find(std::string_view name) const;
    // The image disk `id` runs on: the overlay of the newest snapshot that has it, "" if none.
    std::string topOf(std::string_view id) const;
};

// Why `name` is no snapshot name (1-32 of A-Z a-z 0-9 _ - ., not starting with . or -), or
// nullopt.
std::optional<std::string> snapshotNameProblem(std::string_view name);

// Disks a snapshot takes: block devices that are neither read-only nor CD-ROMs.
bool snapshottable(const hypervisor::Device& device);

// <vmStateDir>/snapshots.json and <vmStateDir>/snapshots/<snapshot>.<disk>.qcow2.
std::filesystem::path chainFile(const std::filesystem::path& vmStateDir);
std::filesystem::path overlayPath(const std::filesystem::path& vmStateDir, std::string_view snap,
                                  std::string_view disk);

std::string chainToJson(const SnapshotChain& chain);
// nullopt with `error` saying what is wrong when `text` is not such a record.
std::optional<SnapshotChain> chainFromJson(std::string_view text, std::string& error);
// The record of the VM (an empty chain without the file); nullopt with `error` if unreadable.
std::optional<SnapshotChain> readChain(const std::filesystem::path& vmStateDir, std::string& error);
// Writes it atomically (temp file, fsync, rename); the error sentence, or nullopt.
std::optional<std::string> writeChain(const std::filesystem::path& vmStateDir,
                                      const SnapshotChain& chain);

// A new snapshot `name` of `devices` (with the chain applied) after those of `chain`.
SnapshotRecord newSnapshot(const SnapshotChain& chain, const std::string& name,
                           const std::vector<hypervisor::Device>& devices,
                           const std::filesystem::path& vmStateDir, std::uint64_t nowUsec);

// Points each disk whose path belongs to its chain at the chain's top (qcow2); others keep
// theirs. Returns how many disks were changed.
int useChain(std::vector<hypervisor::Device>& devices, const SnapshotChain& chain);
// The device record of disk `id` now runs on `image` of `format`.
void pointDiskAt(hypervisor::Device& device, const std::string& image, const std::string& format);

// Block node names of the overlay of snapshot `seq` on disk `id` (format node, file node).
std::string overlayNode(std::string_view id, std::uint64_t seq);
std::string overlayFileNode(std::string_view id, std::uint64_t seq);
// blockdev-add arguments: the overlay's file node on an fdset, and its qcow2 node, no backing
// (blockdev-snapshot attaches the current image as its backing).
monitor::Json overlayFileArgs(std::string_view id, std::uint64_t seq, int fdset);
monitor::Json overlayFormatArgs(std::string_view id, std::uint64_t seq);
// transaction arguments: one blockdev-snapshot per (node, overlay) pair, all or none.
monitor::Json snapshotTransaction(const std::vector<std::pair<std::string, std::string>>& pairs);
// block-commit of `topNode` into `baseNode` on the disk whose active node is `rootNode`; when
// top is not the active layer, the overlay above it is told `backingFile`.
monitor::Json commitArgs(const std::string& jobId, const std::string& rootNode,
                         const std::string& topNode, const std::string& baseNode,
                         const std::string& backingFile);

// In query-named-block-nodes' reply: the node named `name` if there is one, else the format
// node (not file/host_device) whose file is `path`; "" if none.
std::string findNode(const rapidjson::Value& nodes, const std::string& name,
                     const std::string& path);

}  // namespace corral::supervisor

// What a revert and a delete do to a snapshot chain (snapshot_record.hpp), pure: which overlays
// go, which images merge into which, and the record afterwards. snapshot_image.cpp carries the
// plans out with qemu-img on a stopped VM's images.
#pragma once

#include <string>
#include <vector>

#include "supervisor/snapshot_record.hpp"

namespace corral::supervisor {

// The chain up to and with snapshot `name` (a revert drops the snapshots after it).
SnapshotChain chainUpTo(const SnapshotChain& chain, const std::string& name);
// The overlays of the snapshots after `name`, which a revert to it removes.
std::vector<std::string> overlaysAfter(const SnapshotChain& chain, const std::string& name);

// Deleting snapshot `name` merges each of its overlays into the image below it (`layer.base`).
// `above` is the overlay of the next snapshot of the same disk, whose backing file becomes
// layer.base; "" when the overlay is the disk's top (the VM's active image).
struct MergeStep {
    SnapshotLayer layer;
    std::string above;
};
std::vector<MergeStep> mergeSteps(const SnapshotChain& chain, const std::string& name);
// The record once the merges are done: snapshot `name` gone, the next snapshot of each of its
// disks standing on the merged image.
SnapshotChain afterMerge(const SnapshotChain& chain, const std::string& name);

}  // namespace corral::supervisor

// corralctl snapshot create|list|revert|delete NAME [SNAP]: a VM's disk snapshots
// (Instance.Snapshot, ListSnapshots, RevertSnapshot, DeleteSnapshot).
#pragma once

#include "supervisor/ctl_verbs.hpp"

namespace corral::supervisor::ctl {

// create NAME SNAP, revert NAME SNAP [--force], delete NAME SNAP; list NAME prints a line per
// snapshot, oldest first: "SNAP CREATED DISK:OVERLAY..." (--json: an array of objects).
int snapshotVerb(const Args& a);

}  // namespace corral::supervisor::ctl

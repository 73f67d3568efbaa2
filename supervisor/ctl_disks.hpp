// corralctl resize and limits: the disks of a running VM (Instance.ResizeDisk, SetDiskLimits,
// GetDiskLimits).
#pragma once

#include "supervisor/ctl_verbs.hpp"

namespace corral::supervisor::ctl {

// resize NAME DISK SIZE: grows DISK to SIZE, written as the TOML sizes are ("10G", "512M",
// "20GiB", bytes without a unit); checked before any bus is opened.
int resizeVerb(const Args& a);
// limits NAME DISK [KEY=VALUE...]: without pairs, prints the disk's limits one "KEY VALUE" a
// line; with them, sets each (VALUE a number with an optional binary unit, 0 removes it).
int limitsVerb(const Args& a);

}  // namespace corral::supervisor::ctl

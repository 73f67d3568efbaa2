// corralctl save NAME and start NAME [--discard-saved] (managed save, docs/dbus-api.md).
#pragma once

#include "supervisor/ctl_verbs.hpp"

namespace corral::supervisor::ctl {

// Instance.Save: the VM's state to its saved-state file, then qemu stops.
int saveVerb(const Args& a);
// Instance.Start, or StartWithOptions {discard_saved} with --discard-saved; says when the VM
// was restored from its saved state rather than booted.
int startVerb(const Args& a);

}  // namespace corral::supervisor::ctl

// corralctl backup create|list|cancel: Instance.Backup, ListBackups, CancelBackup.
#pragma once

#include "supervisor/ctl_verbs.hpp"

namespace corral::supervisor::ctl {

int backupVerb(const Args& a);

}  // namespace corral::supervisor::ctl

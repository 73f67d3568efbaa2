// corralctl migrate NAME DEST [--bandwidth B] [--downtime MS] [--timeout S] and
// corralctl migrate --cancel NAME.
#pragma once

#include "supervisor/ctl_verbs.hpp"

namespace corral::supervisor::ctl {

int migrateVerb(const Args& a);

}  // namespace corral::supervisor::ctl

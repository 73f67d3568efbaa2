// corralctl's verbs: the table the command line is parsed against, each row with the function
// that runs it.
#pragma once

#include <span>

#include "supervisor/ctl_verbs.hpp"

namespace corral::supervisor::ctl {

std::span<const Verb> corralctlVerbs();

}  // namespace corral::supervisor::ctl

// The Prometheus text exposition format (version 0.0.4) of corrald's samples: a pure function
// from samples to text, one row per metric family. Instances without a running qemu appear only
// in corral_vm_state and corral_vm_running; their resource series are absent until qemu runs.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "supervisor/stats.hpp"

namespace corral::supervisor {

inline constexpr const char* kExpositionContentType = "text/plain; version=0.0.4; charset=utf-8";

// A label value as the format quotes it: backslash, double quote and newline escaped.
std::string escapeLabelValue(std::string_view value);

// Every family with HELP and TYPE, then its samples, VMs in the order given.
std::string exposition(std::span<const VmSample> samples);

}  // namespace corral::supervisor

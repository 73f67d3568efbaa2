// corrald's log lines: one line per event. Under systemd (stderr is the journal: $JOURNAL_STREAM)
// each line goes to the journal natively with its priority; a line about an instance ("NAME:
// ...", NAME an instance corrald serves) also carries CORRAL_INSTANCE=NAME and
// OBJECT_SYSTEMD_UNIT=corral@NAME.service, so that `journalctl -u corral@NAME` and
// `journalctl CORRAL_INSTANCE=NAME` show corrald's lines about that VM next to the unit's own.
// Elsewhere lines go to stderr with a "corrald: " prefix.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "supervisor/instance.hpp"

namespace corral::supervisor {

// Whether `name` is an instance corrald serves (empty: none is).
using InstanceFilter = std::function<bool(std::string_view name)>;

// A LogSink as above; `minimumPriority` drops less important lines (6 = info).
LogSink stderrLog(int minimumPriority = 6, InstanceFilter isInstance = {});

// The journal fields of one line ("FIELD=value"): MESSAGE, PRIORITY, SYSLOG_IDENTIFIER and, for
// a line about an instance, CORRAL_INSTANCE and OBJECT_SYSTEMD_UNIT.
std::vector<std::string> journalFields(int priority, const std::string& line,
                                       const InstanceFilter& isInstance);

}  // namespace corral::supervisor

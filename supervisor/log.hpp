// corrald's log lines: one line per event on stderr, with a "<N>" syslog priority prefix when
// stderr is the journal (systemd sets $JOURNAL_STREAM), so journald keeps the priority.
#pragma once

#include "supervisor/instance.hpp"

namespace corral::supervisor {

// A LogSink writing to stderr; `minimumPriority` drops less important lines (6 = info).
LogSink stderrLog(int minimumPriority = 6);

}  // namespace corral::supervisor

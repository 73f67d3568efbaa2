// corralctl output: aligned tables and key/value lines for people, JSON for scripts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hypervisor/instance_spec.hpp"
#include "supervisor/ctl_client.hpp"

namespace corral::supervisor::ctl {

// A JSON string literal (quotes included) with control and non-ASCII bytes escaped.
std::string jsonQuote(const std::string& text);
// A realtime in µs as local ISO 8601 with its offset, 2026-05-01T12:00:00+0200.
std::string localTimeText(std::uint64_t usec);

void printList(const std::vector<InstanceRow>& rows, bool json);
void printStatus(const Properties& properties, bool json);
// One named value: plain text, or {"name": "value"}.
void printValue(const std::string& name, const std::string& value, bool json);
void printLines(const std::vector<std::string>& lines, bool json);

// StartedAt (µs since the epoch) for people: local time in ISO 8601 with its offset, then how
// long ago, "2026-12-01T13:02:03+01:00 (up 1h 2m 3s)"; "-" for 0 (not running).
std::string startedAtText(std::uint64_t startedUsec, std::uint64_t nowUsec);

// validate's result for one file.
struct Validation {
    std::string file;
    hypervisor::LoadResult result;
};
// Lines "FILE:LINE:COLUMN: error: MESSAGE" and "FILE: ok (instance NAME)", or one JSON array with
// an object per file: {"file", "ok", "instance" (when ok), "diagnostics": [{"line", "column",
// "message"}]}.
void printValidations(const std::vector<Validation>& validations, bool json);

}  // namespace corral::supervisor::ctl

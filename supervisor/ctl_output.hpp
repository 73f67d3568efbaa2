// corralctl output: aligned tables and key/value lines for people, JSON for scripts.
#pragma once

#include <string>
#include <vector>

#include "supervisor/ctl_client.hpp"

namespace corral::supervisor::ctl {

// A JSON string literal (quotes included) with control and non-ASCII bytes escaped.
std::string jsonQuote(const std::string& text);

void printList(const std::vector<InstanceRow>& rows, bool json);
void printStatus(const Properties& properties, bool json);
// One named value: plain text, or {"name": "value"}.
void printValue(const std::string& name, const std::string& value, bool json);
void printLines(const std::vector<std::string>& lines, bool json);

}  // namespace corral::supervisor::ctl

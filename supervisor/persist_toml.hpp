// attach --persist / detach --persist as text edits of an instance definition: a device table
// appended, or one device's table cut out, every other byte of the file kept (comments, order,
// layout). Pure; the caller checks the result with the loader before writing it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "hypervisor/device.hpp"

namespace corral::supervisor {

// `definition` with `device` appended as a table of its kind ([[disk]], [[nic]], ...): its id
// and every option whose value is not the kind's default. A blank line separates it from what
// was there; a file without a final newline gets one first.
std::string withDeviceTable(std::string_view definition, const hypervisor::Device& device);

// `definition` without the [[KIND]] table whose id (given, or the default KIND-prefix + index
// the loader gives a table without one) is `id`: from its header up to its last key line, and a
// blank line right before the header. Comment and blank lines at the end of the table stay: they
// lead into what follows. nullopt if no such table is found.
std::optional<std::string> withoutDeviceTable(std::string_view definition,
                                              const hypervisor::DeviceKind& kind,
                                              std::string_view id);

}  // namespace corral::supervisor

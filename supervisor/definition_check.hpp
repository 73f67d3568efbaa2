// What Define and Update accept: the instance name, the text's size, and the definition as
// corrald's own loader (hypervisor::parseInstanceSpec) reads it, with every diagnostic; and which
// keys of a running VM's definition an Update changes. No bus, no file written.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "hypervisor/instance_spec.hpp"
#include "supervisor/op_error.hpp"

namespace corral::supervisor {

// The definition `text` of the instance `name`, read as if it were `file` (the path it is to
// be written to, which names it in diagnostics). InvalidArgument for a bad name, an empty text
// or one over kMaxDefinitionBytes; InvalidDefinition whose message is every diagnostic,
// one per line, exactly as corral-validate prints them ("FILE:LINE:COL: error: ..."), among
// them a "name" key that differs from `name`.
Outcome<hypervisor::InstanceSpec> checkDefinition(std::string_view name, std::string_view text,
                                                  const std::filesystem::path& file);

// The keys whose values differ between two definitions of one instance, in file order:
// "machine.cpus", "boot.cmdline", "resources.memory_max", a whole device as "disk.data" when it
// was added or removed, one of its options as "disk.data.path". Values are compared as the
// loader read them: "512M" and "536870912" are the same memory.
std::vector<std::string> changedKeys(const hypervisor::InstanceSpec& before,
                                     const hypervisor::InstanceSpec& after);

// The disk image files a definition names (the devices whose kind has a block backend).
std::vector<std::filesystem::path> diskImages(const hypervisor::InstanceSpec& spec);

}  // namespace corral::supervisor

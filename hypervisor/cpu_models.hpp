// The CPU models a qemu binary offers, from `<binary> -cpu help`, read once per binary (path and
// modification time) and kept for the life of the process.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corral::hypervisor {

// The model names of `-cpu help` output: the second word of each "x86 <name> ..." line.
std::vector<std::string> parseCpuHelp(std::string_view text);

// The models `binary` (looked up in PATH unless it has a '/') offers; nullopt when it cannot be
// run or lists none, with `why`.
std::optional<std::vector<std::string>> cpuModelsOf(const std::string& binary, std::string& why);

// nullopt when `model` is "host", "max" or one of `binary`'s models, or when the binary cannot
// be asked (starting it will then fail on its own); else a sentence naming model and binary.
std::optional<std::string> checkCpuModel(std::string_view model, const std::string& binary);

}  // namespace corral::hypervisor

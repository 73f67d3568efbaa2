// The *.toml files of an instances directory as corrald reads them: which file defines which
// instance, and every file that defines none with the reason. corrald's Reload and
// corral-validate on a directory use this one scan, so both ignore the same files.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "hypervisor/instance_spec.hpp"

namespace corral::hypervisor {

struct DefinitionFile {
    std::string name;
    std::filesystem::path file;
    LoadResult result;
};

struct IgnoredFile {
    std::filesystem::path file;
    std::string reason;
    bool operator==(const IgnoredFile&) const = default;
};

struct DefinitionScan {
    std::vector<DefinitionFile> definitions;  // one per name, sorted by name
    std::vector<IgnoredFile> ignored;         // sorted by file
    std::string problem;                      // the directory itself cannot be read
};

// Why a *.toml directory entry cannot be a definition (a directory, a symlink loop, not
// readable); empty when it can be read.
std::string unusableDefinitionFile(const std::filesystem::path& file);

// Scans `dir`. Of two files with the same name the first in file order wins unless
// `keepSecond(name, file)` says the later one does; without it, NAME.toml wins (corrald also
// keeps the file an instance already came from).
DefinitionScan scanDefinitions(
    const std::filesystem::path& dir,
    const std::function<bool(const std::string&, const std::filesystem::path&)>& keepSecond = {});

}  // namespace corral::hypervisor

// Where Undefine(remove_storage) may delete disk images: under one of corral.toml's
// [storage] allowed_dirs, judged on the resolved path (symlinks and ".." followed), and nowhere
// else. No bus, no daemon: the rule is unit-tested on a real directory tree.
#pragma once

#include <filesystem>
#include <optional>
#include <vector>

namespace corral::supervisor {

// The default of [storage] allowed_dirs.
inline const std::filesystem::path kDefaultStorageDir = "/var/lib/corral";

// The file `image` names, resolved (fs::canonical), if it exists and lies strictly inside one
// of `dirs` (each resolved as well; a directory that does not exist holds nothing); nullopt
// otherwise. The returned path is the one to delete: a symlink leading into a storage dir
// deletes its target there, never a file outside.
std::optional<std::filesystem::path> imageInStorage(const std::filesystem::path& image,
                                                    const std::vector<std::filesystem::path>& dirs);

}  // namespace corral::supervisor

#include "supervisor/storage_dirs.hpp"

#include <algorithm>
#include <system_error>

namespace corral::supervisor {

namespace fs = std::filesystem;

namespace {

// `path` below `dir`, both resolved: every component of dir, then at least one more.
bool strictlyInside(const fs::path& path, const fs::path& dir) {
    auto [end, at] = std::mismatch(dir.begin(), dir.end(), path.begin(), path.end());
    return end == dir.end() && at != path.end();
}

}  // namespace

std::optional<fs::path> imageInStorage(const fs::path& image, const std::vector<fs::path>& dirs) {
    std::error_code ec;
    auto resolved = fs::canonical(image, ec);
    if (ec || !fs::is_regular_file(resolved, ec)) return std::nullopt;
    for (const auto& dir : dirs) {
        auto root = fs::canonical(dir, ec);
        if (ec || !fs::is_directory(root, ec)) continue;
        if (strictlyInside(resolved, root)) return resolved;
    }
    return std::nullopt;
}

}  // namespace corral::supervisor

#include "supervisor/migration_marker.hpp"

#include <fstream>

namespace corral::supervisor {

std::filesystem::path migratedMarker(const std::filesystem::path& stateRoot,
                                     const std::string& name) {
    return stateRoot / name / "migrated-to";
}

std::optional<std::string> readMigratedMarker(const std::filesystem::path& stateRoot,
                                              const std::string& name) {
    std::ifstream in(migratedMarker(stateRoot, name));
    if (!in) return std::nullopt;
    std::string destination;
    std::getline(in, destination);
    return destination.empty() ? std::string("another host") : destination;
}

std::optional<std::string> writeMigratedMarker(const std::filesystem::path& stateRoot,
                                               const std::string& name,
                                               const std::string& destination) {
    auto file = migratedMarker(stateRoot, name);
    std::error_code ec;
    std::filesystem::create_directories(file.parent_path(), ec);
    if (ec) return "cannot create " + file.parent_path().string() + ": " + ec.message();
    std::ofstream out(file, std::ios::trunc);
    out << destination << "\n";
    out.flush();
    if (!out) return "cannot write " + file.string();
    return std::nullopt;
}

void removeMigratedMarker(const std::filesystem::path& stateRoot, const std::string& name) {
    std::error_code ignored;
    std::filesystem::remove(migratedMarker(stateRoot, name), ignored);
}

}  // namespace corral::supervisor

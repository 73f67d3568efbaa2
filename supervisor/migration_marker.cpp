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

namespace corral::supervisor {

namespace {

std::filesystem::path migratingFile(const std::filesystem::path& stateRoot,
                                    const std::string& name) {
    return stateRoot / name / "migrating";
}

}  // namespace

std::optional<std::string> writeMigratingMark(const std::filesystem::path& stateRoot,
                                              const std::string& name, const MigratingMark& mark) {
    auto file = migratingFile(stateRoot, name);
    std::error_code ec;
    std::filesystem::create_directories(file.parent_path(), ec);
    if (ec) return "cannot create " + file.parent_path().string() + ": " + ec.message();
    auto temp = file;
    temp += ".tmp";
    {
        std::ofstream out(temp, std::ios::trunc);
        out << mark.destination << "\n"
            << (mark.wasRunning ? "running" : "paused") << "\n"
            << (mark.switching ? "switching" : "sending") << "\n";
        out.flush();
        if (!out) return "cannot write " + temp.string();
    }
    std::filesystem::rename(temp, file, ec);
    if (ec) return "cannot write " + file.string() + ": " + ec.message();
    return std::nullopt;
}

std::optional<MigratingMark> readMigratingMark(const std::filesystem::path& stateRoot,
                                               const std::string& name) {
    std::ifstream in(migratingFile(stateRoot, name));
    MigratingMark mark;
    std::string running, phase;
    if (!std::getline(in, mark.destination) || mark.destination.empty()) return std::nullopt;
    std::getline(in, running);
    std::getline(in, phase);
    mark.wasRunning = running == "running";
    // Anything but a clean "sending" counts as switching: the safe reading of a torn file.
    mark.switching = phase != "sending";
    return mark;
}

void removeMigratingMark(const std::filesystem::path& stateRoot, const std::string& name) {
    std::error_code ignored;
    std::filesystem::remove(migratingFile(stateRoot, name), ignored);
}

}  // namespace corral::supervisor

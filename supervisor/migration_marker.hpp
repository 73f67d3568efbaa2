// The mark a migrated-away instance leaves in its state directory, so that nothing on this host
// starts it again by itself, also after a corrald restart: <state_dir>/NAME/migrated-to holds
// where it went.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace corral::supervisor {

std::filesystem::path migratedMarker(const std::filesystem::path& stateRoot,
                                     const std::string& name);
// The destination it was migrated to, if the marker is there.
std::optional<std::string> readMigratedMarker(const std::filesystem::path& stateRoot,
                                              const std::string& name);
// Writes the marker (creating the directory); the error text if it could not.
std::optional<std::string> writeMigratedMarker(const std::filesystem::path& stateRoot,
                                               const std::string& name,
                                               const std::string& destination);
void removeMigratedMarker(const std::filesystem::path& stateRoot, const std::string& name);

}  // namespace corral::supervisor

namespace corral::supervisor {

// A migration in progress, recorded at its begin (<state_dir>/NAME/migrating) so that a corrald
// restarted in the middle knows where the VM was going, whether it ran, and whether the
// switchover had been asked for (then it cannot know where the VM runs).
struct MigratingMark {
    std::string destination;
    bool wasRunning = false;
    bool switching = false;
};
std::optional<std::string> writeMigratingMark(const std::filesystem::path& stateRoot,
                                              const std::string& name, const MigratingMark& mark);
std::optional<MigratingMark> readMigratingMark(const std::filesystem::path& stateRoot,
                                               const std::string& name);
void removeMigratingMark(const std::filesystem::path& stateRoot, const std::string& name);

}  // namespace corral::supervisor

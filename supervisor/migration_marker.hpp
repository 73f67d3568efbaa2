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

// [migration] in corral.toml: where an incoming migration's qemu listens.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace corral::supervisor {

struct MigrationSettings {
    // The IP address the destination's qemu listens on for the migration stream; a wildcard
    // ("0.0.0.0", "::") listens everywhere and gives the source this host's name to connect to.
    std::string listenAddress = "0.0.0.0";
    // The first free port of this range (inclusive) is used, one per incoming migration.
    std::uint16_t portFirst = 49152;
    std::uint16_t portLast = 49215;
    // The TLS credentials of both ends (supervisor/migration_tls.hpp), for migrations with tls.
    std::filesystem::path tlsDir = "/etc/corral/pki";
};

// Applies [migration] listen_address (an IPv4 or IPv6 address), port_range ("FIRST-LAST",
// 1024 <= FIRST <= LAST <= 65535) and tls_dir (an absolute path) as the file gave them (nullopt:
// not set). Throws std::runtime_error with "FILE: migration.KEY '...' ..." on a bad value.
void applyMigrationConfig(const std::string& file, const std::optional<std::string>& listenAddress,
                          const std::optional<std::string>& portRange,
                          const std::optional<std::string>& tlsDir, MigrationSettings& settings);

}  // namespace corral::supervisor

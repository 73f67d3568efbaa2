// TLS for the migration stream: QEMU's tls-creds-x509 object over a directory of PEM files that
// corrald's [migration] tls_dir names, the same on both hosts (like libvirt's /etc/pki/qemu).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace corral::supervisor {

// The id of the credentials object corrald adds to a migrating qemu.
inline constexpr const char* kMigrationTlsId = "corral-migration-tls";

// What QEMU reads from the directory: ca-cert.pem, and server-cert.pem + server-key.pem (the
// destination, `server`) or client-cert.pem + client-key.pem (the source). The sentence naming
// the first file missing or unreadable, or nullopt when all are there.
std::optional<std::string> checkTlsDir(const std::filesystem::path& dir, bool server);

// object-add of the credentials (the peer's certificate verified: the destination accepts only
// sources whose client certificate its CA signed, the source only a destination whose server
// certificate does and names the address it connects to).
std::string tlsCredsAddJson(const std::filesystem::path& dir, bool server);
// migrate-set-parameters' "tls-creds": the object, or "" (plain TCP; QEMU keeps the last value
// set, so a migration without TLS after one with it must clear it).
std::string tlsParameterJson(bool on, const char* id = kMigrationTlsId);

// Confined qemus (migration_tls_confined.cpp) get the credentials on their command line, with
// these ids: a client object and a server object for each role whose files `dir` holds.
inline constexpr const char* kMigrationTlsClientId = "corral-migration-tls-client";
inline constexpr const char* kMigrationTlsServerId = "corral-migration-tls-server";
const char* tlsCredsId(bool server);
std::vector<std::string> tlsCredsArgv(const std::filesystem::path& dir);
// Whether `argv` carries the object of that role.
bool tlsCredsOnCommandLine(const std::vector<std::string>& argv, bool server);
// Why a qemu started with `argv` cannot migrate over TLS in that role (confined, without the
// object), else nullopt.
std::optional<std::string> confinedTlsProblem(const std::vector<std::string>& argv, bool server);

}  // namespace corral::supervisor

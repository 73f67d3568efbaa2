#include "supervisor/migration_tls.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "monitor/json.hpp"

namespace corral::supervisor {

std::optional<std::string> checkTlsDir(const std::filesystem::path& dir, bool server) {
    const char* files[] = {"ca-cert.pem", server ? "server-cert.pem" : "client-cert.pem",
                           server ? "server-key.pem" : "client-key.pem"};
    for (const char* file : files) {
        auto path = dir / file;
        if (::access(path.c_str(), R_OK) != 0)
            return "tls needs " + path.string() + " (" + std::strerror(errno) +
                   "); see [migration] tls_dir in corral.toml";
    }
    return std::nullopt;
}

std::string tlsCredsAddJson(const std::filesystem::path& dir, bool server) {
    monitor::JsonObject arguments;
    arguments.set("qom-type", "tls-creds-x509")
        .set("id", kMigrationTlsId)
        .set("dir", dir.string())
        .set("endpoint", server ? "server" : "client")
        .set("verify-peer", true);
    return monitor::toJsonString(
        monitor::JsonObject().set("execute", "object-add").set("arguments", arguments).json());
}

std::string tlsParameterJson(bool on, const char* id) {
    return std::string(R"("tls-creds":")") + (on ? id : "") + "\"";
}

}  // namespace corral::supervisor

// Migration TLS for confined qemus: a qemu in an empty root cannot read [migration] tls_dir when a
// migration begins, so the credentials are objects of its command line, loaded while it still
// runs as root, and a migration names them instead of adding them.
#include <string_view>

#include "hypervisor/qemu_argv.hpp"
#include "supervisor/migration_tls.hpp"

namespace corral::supervisor {

std::vector<std::string> tlsCredsArgv(const std::filesystem::path& dir) {
    std::vector<std::string> argv;
    if (dir.empty()) return argv;
    for (bool server : {false, true}) {
        if (checkTlsDir(dir, server)) continue;
        argv.push_back("-object");
        argv.push_back(std::string("tls-creds-x509,id=") + tlsCredsId(server) +
                       ",dir=" + hypervisor::escapeOption(dir.string()) +
                       ",endpoint=" + (server ? "server" : "client") + ",verify-peer=on");
    }
    return argv;
}

const char* tlsCredsId(bool server) {
    return server ? kMigrationTlsServerId : kMigrationTlsClientId;
}

bool tlsCredsOnCommandLine(const std::vector<std::string>& argv, bool server) {
    std::string prefix = std::string("tls-creds-x509,id=") + tlsCredsId(server) + ",";
    for (std::size_t i = 0; i + 1 < argv.size(); ++i)
        if (argv[i] == "-object" && argv[i + 1].rfind(prefix, 0) == 0) return true;
    return false;
}

std::optional<std::string> confinedTlsProblem(const std::vector<std::string>& argv, bool server) {
    bool confined = false;
    for (const auto& arg : argv) confined = confined || arg == "-runas";
    if (!confined || tlsCredsOnCommandLine(argv, server)) return std::nullopt;
    return std::string(
               "its qemu runs confined and was started before [migration] tls_dir held "
               "the ") +
           (server ? "server" : "client") +
           " credentials, which it can no longer read; restart the VM to migrate it over TLS";
}

}  // namespace corral::supervisor

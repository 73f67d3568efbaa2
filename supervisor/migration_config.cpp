#include "supervisor/migration_config.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <stdexcept>

namespace corral::supervisor {

namespace {

bool isIpAddress(const std::string& text) {
    unsigned char buffer[sizeof(in6_addr)];
    return inet_pton(AF_INET, text.c_str(), buffer) == 1 ||
           inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

std::optional<unsigned> parsePort(std::string_view text) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < 1024 || value > 65535)
        return std::nullopt;
    return value;
}

}  // namespace

void applyMigrationConfig(const std::string& file, const std::optional<std::string>& listenAddress,
                          const std::optional<std::string>& portRange,
                          const std::optional<std::string>& tlsDir, MigrationSettings& settings) {
    if (tlsDir) {
        if (tlsDir->empty() || tlsDir->front() != '/')
            throw std::runtime_error(file + ": migration.tls_dir '" + *tlsDir +
                                     "' is not an absolute path");
        settings.tlsDir = *tlsDir;
    }
    if (listenAddress) {
        if (!isIpAddress(*listenAddress))
            throw std::runtime_error(file + ": migration.listen_address '" + *listenAddress +
                                     "' is not an IPv4 or IPv6 address");
        settings.listenAddress = *listenAddress;
    }
    if (portRange) {
        std::string_view text = *portRange;
        auto dash = text.find('-');
        auto first =
            dash == std::string_view::npos ? std::nullopt : parsePort(text.substr(0, dash));
        auto last =
            dash == std::string_view::npos ? std::nullopt : parsePort(text.substr(dash + 1));
        if (!first || !last || *first > *last)
            throw std::runtime_error(file + ": migration.port_range '" + *portRange +
                                     "' is not FIRST-LAST with 1024 <= FIRST <= LAST <= 65535");
        settings.portFirst = static_cast<std::uint16_t>(*first);
        settings.portLast = static_cast<std::uint16_t>(*last);
    }
}

}  // namespace corral::supervisor

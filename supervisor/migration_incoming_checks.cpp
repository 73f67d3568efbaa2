#include "supervisor/migration_incoming_checks.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "hypervisor/slot_plan.hpp"

namespace corral::supervisor {

std::optional<OpError> checkLayout(const hypervisor::InstanceSpec& spec,
                                   const std::vector<hypervisor::Device>& records) {
    hypervisor::SlotPlan plan;
    try {
        plan = hypervisor::planSlots(spec);
    } catch (const std::exception& e) {
        return OpError{ErrorKind::InvalidDefinition, e.what()};
    }
    std::size_t boot = 0;
    for (const auto& record : records) {
        if (record.hotplugged) continue;
        ++boot;
        auto planned = plan.find(record.id);
        const hypervisor::Device* mine = nullptr;
        for (const auto& d : plan.devices)
            if (d.id == record.id) mine = &d;
        if (!planned || !mine || mine->kind != record.kind || *planned != record.slot)
            return OpError{ErrorKind::InvalidArgument,
                           "PrepareIncoming: device " + record.id + " (" +
                               std::string(record.kindName()) + " at " + record.slot.toString() +
                               ") is not where this host's slot plan puts the definition's "
                               "devices; the definitions differ"};
    }
    if (boot != plan.devices.size())
        return OpError{ErrorKind::InvalidArgument,
                       "PrepareIncoming: the source has " + std::to_string(boot) +
                           " boot-time devices, the definition makes " +
                           std::to_string(plan.devices.size()) + "; the definitions differ"};
    return std::nullopt;
}

bool isWildcard(const std::string& address) {
    return address == "0.0.0.0" || address == "::";
}

bool portFree(const std::string& address, std::uint16_t port) {
    sockaddr_storage storage{};
    socklen_t length = 0;
    int family = address.find(':') == std::string::npos ? AF_INET : AF_INET6;
    if (family == AF_INET) {
        auto* in = reinterpret_cast<sockaddr_in*>(&storage);
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        if (inet_pton(AF_INET, address.c_str(), &in->sin_addr) != 1) return false;
        length = sizeof *in;
    } else {
        auto* in = reinterpret_cast<sockaddr_in6*>(&storage);
        in->sin6_family = AF_INET6;
        in->sin6_port = htons(port);
        if (inet_pton(AF_INET6, address.c_str(), &in->sin6_addr) != 1) return false;
        length = sizeof *in;
    }
    int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&storage), length) == 0;
    ::close(fd);
    return ok;
}

std::string hostPart(const std::string& address) {
    return address.find(':') == std::string::npos ? address : "[" + address + "]";
}

}  // namespace corral::supervisor

#include "supervisor/device_clash.hpp"

namespace corral::supervisor {

std::optional<OpError> uniqueValueClash(const hypervisor::Device& device,
                                        const std::vector<hypervisor::Device>& current,
                                        const std::string& instanceName) {
    if (!device.kind) return std::nullopt;
    // The values the attach will fill in (a NIC's default MAC) clash as much as given ones.
    hypervisor::Device probe = device;
    if (probe.kind->derive) probe.kind->derive(probe, instanceName);
    for (const auto& option : probe.kind->options) {
        if (!option.unique || !probe.options.count(option.key)) continue;
        auto value = probe.text(option.key);
        for (const auto& other : current) {
            if (other.kind != probe.kind || other.id == probe.id) continue;
            if (!other.options.count(option.key) || other.text(option.key) != value) continue;
            std::string noun =
                option.noun.empty() ? std::string(option.key) : std::string(option.noun);
            return OpError{ErrorKind::InvalidArgument, noun + " " + std::string(value) +
                                                           " is already used by " +
                                                           std::string(other.kindName()) + " " +
                                                           other.id + " of " + instanceName};
        }
    }
    return std::nullopt;
}

}  // namespace corral::supervisor

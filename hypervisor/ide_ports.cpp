#include "hypervisor/ide_ports.hpp"

#include <stdexcept>

namespace corral::hypervisor {

namespace {
constexpr std::string_view kIdeBusPrefix = "ide.";
}

bool usesIdePort(const Device& device) {
    if (!device.kind) return false;
    if (device.kind->name == "cdrom") return true;
    return device.kind->name == "disk" && device.text("bus") == "sata";
}

std::vector<PciSlot> idePorts(MachineType machine) {
    // pc: primary and secondary channel, master and slave each. q35: one device per AHCI port.
    unsigned buses = machine == MachineType::Pc ? 2 : 6;
    unsigned units = machine == MachineType::Pc ? 2 : 1;
    std::vector<PciSlot> ports;
    for (unsigned bus = 0; bus < buses; ++bus) {
        for (unsigned unit = 0; unit < units; ++unit)
            ports.push_back({std::string(kIdeBusPrefix) + std::to_string(bus), unit});
    }
    return ports;
}

std::vector<std::pair<std::string, PciSlot>> assignIdePorts(MachineType machine,
                                                            const std::vector<Device>& devices) {
    auto ports = idePorts(machine);
    std::vector<std::pair<std::string, PciSlot>> out;
    for (const auto& device : devices) {
        if (!usesIdePort(device)) continue;
        if (out.size() == ports.size()) {
            throw std::invalid_argument("too many CD-ROMs and sata disks for the " +
                                        std::string(machine == MachineType::Pc
                                                        ? "IDE controller of pc"
                                                        : "AHCI controller of q35") +
                                        ": it has " + std::to_string(ports.size()) + " ports");
        }
        out.emplace_back(device.id, ports[out.size()]);
    }
    return out;
}

bool isIdePort(const PciSlot& slot) {
    return slot.bus.starts_with(kIdeBusPrefix);
}

}  // namespace corral::hypervisor

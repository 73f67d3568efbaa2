#include "hypervisor/qemu_argv.hpp"

#include <stdexcept>

#include "hypervisor/boot_order.hpp"
#include "hypervisor/device_backend.hpp"
#include "hypervisor/firmware.hpp"
#include "hypervisor/ide_ports.hpp"
#include "hypervisor/instance_name.hpp"
#include "hypervisor/machine_uuid.hpp"
#include "hypervisor/qemu_argv_cpu.hpp"
#include "hypervisor/scsi_controller.hpp"

namespace corral::hypervisor {
namespace {

std::string at(const SlotPlan& plan, const std::string& id) {
    auto slot = plan.find(id);
    if (!slot) throw std::invalid_argument("slot plan has no place for device " + id);
    return ",bus=" + slot->bus + ",addr=" + slot->addr();
}

std::string socketChardev(const std::string& id, const std::filesystem::path& path) {
    return "socket,id=" + id + ",path=" + escapeOption(path.string()) + ",server=on,wait=off";
}

// QEMU appends the console's output to the file (O_APPEND) while the socket keeps serving it.
std::string consoleLogOption(const std::filesystem::path& file) {
    if (file.empty()) return {};
    return ",logfile=" + escapeOption(file.string()) + ",logappend=on";
}

std::string memoryMiB(std::uint64_t bytes) {
    return std::to_string((bytes + (1u << 20) - 1) >> 20) + "M";
}

// Each device of a definable kind: its backend's arguments, then -device with the properties
// that link it to the backend, those its options carry, and its slot. The records of hotplugged
// devices (an incoming migration recreates them) come after the root ports they sit in and
// never take a boot index.
void addDevices(std::vector<std::string>& argv, const InstanceSpec& spec, const SlotPlan& plan,
                bool hotplugged, int& nextFd) {
    auto bootIndex = bootIndexes(spec, plan.devices);
    for (const auto& device : plan.devices) {
        const auto& kind = *device.kind;
        if (device.hotplugged != hotplugged) continue;
        if (&kind == &scsiControllerKind()) addScsiControllerArgs(device, argv);
        if (!kind.definable) continue;
        backendOf(kind).bootArgs(device, nextFd, argv);
        std::string line = std::string(device.driver()) + ",id=" + device.id;
        for (const auto& [property, value] : backendOf(kind).deviceLinks(device))
            line += "," + property + "=" + escapeOption(value);
        for (const auto& option : kind.options) {
            if (option.deviceProperty.empty()) continue;
            line += "," + std::string(option.deviceProperty) + "=" +
                    escapeOption(device.text(option.key));
        }
        for (const auto& [property, value] : placement(device.slot))
            line += "," + property + "=" + value;
        if (hotplugged && !device.onScsi()) line += ",romfile=" + std::string(kHotplugRomfile);
        if (auto index = bootIndex.find(device.id); index != bootIndex.end() && !hotplugged)
            line += ",bootindex=" + std::to_string(index->second);
        argv.insert(argv.end(), {"-device", line});
    }
}

}  // namespace

RuntimePaths RuntimePaths::forInstance(const std::filesystem::path& runtimeRoot,
                                       std::string_view name) {
    if (auto why = checkInstanceName(name)) throw std::invalid_argument(*why);
    RuntimePaths p;
    p.dir = runtimeRoot / std::string(name);
    p.qmpSocket = p.dir / "qmp.sock";
    p.serialSocket = p.dir / "serial.sock";
    p.negotiatorHostToGuest = p.dir / (std::string(kHostToGuestPort) + ".sock");
    p.negotiatorGuestToHost = p.dir / (std::string(kGuestToHostPort) + ".sock");
    p.qemuGaSocket = p.dir / "qemu-ga.sock";
    p.pidFile = p.dir / "qemu.pid";
    p.stateFile = p.dir / "state.json";
    p.logFile = p.dir / "qemu.log";
    return p;
}

std::vector<TapDevice> openBootFds(std::vector<Device>& devices) {
    std::vector<TapDevice> fds;
    for (auto& device : devices) {
        auto opened = backendOf(*device.kind).openBootFd(device);
        if (!opened) {
            throw std::runtime_error(std::string(device.kindName()) + " " + device.id + ": " +
                                     opened.error().message);
        }
        if (!*opened) continue;
        device.backend = (*opened)->name();
        fds.push_back(std::move(**opened));
    }
    return fds;
}

std::vector<std::string> buildQemuArgv(const InstanceSpec& spec, const SlotPlan& plan,
                                       const RuntimePaths& paths) {
    std::vector<std::string> argv = {
        kDefaultQemuBinary,
        "-name",
        "guest=" + spec.name + ",debug-threads=on",
        "-uuid",
        spec.machine.uuid.empty() ? derivedUuid(spec.name) : spec.machine.uuid,
        "-machine",
        std::string(toString(spec.machine.type)) + ",accel=" +
            std::string(toString(spec.machine.accel)) + firmwareMachineProperties(spec.firmware),
        "-m",
        memoryMiB(spec.machine.memoryBytes),
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-S",
        "-msg",
        "timestamp=on",
        "-pidfile",
        paths.pidFile.string(),
        "-chardev",
        socketChardev("corral-qmp", paths.qmpSocket),
        "-mon",
        "chardev=corral-qmp,mode=control",
        "-chardev",
        socketChardev("corral-serial", paths.serialSocket) + consoleLogOption(paths.consoleLog),
        "-serial",
        "chardev:corral-serial"};
    addFirmwareArgs(spec.firmware, argv);
    auto cpu = cpuArgs(spec.machine, runsUnderKvm(spec.machine.accel));
    argv.insert(argv.begin() + 7, cpu.begin(), cpu.end());  // after -machine
    if (spec.agent.anyPort()) {
        argv.insert(argv.end(), {"-device", std::string(agentPortKind().driver) +
                                                ",id=" + std::string(kAgentPortId) +
                                                at(plan, std::string(kAgentPortId))});
    }
    if (spec.agent.negotiator) {
        argv.insert(
            argv.end(),
            {"-chardev", socketChardev("corral-h2g", paths.negotiatorHostToGuest), "-device",
             "virtserialport,bus=corral-vserial.0,chardev=corral-h2g,name=" +
                 std::string(kHostToGuestPort),
             "-chardev", socketChardev("corral-g2h", paths.negotiatorGuestToHost), "-device",
             "virtserialport,bus=corral-vserial.0,chardev=corral-g2h,name=" +
                 std::string(kGuestToHostPort)});
    }
    if (spec.agent.qemuGa) {
        argv.insert(argv.end(),
                    {"-chardev", socketChardev("corral-qga", paths.qemuGaSocket), "-device",
                     "virtserialport,bus=corral-vserial.0,chardev=corral-qga,name=" +
                         std::string(kQemuGaPort)});
    }
    if (spec.boot) {
        argv.insert(argv.end(), {"-kernel", spec.boot->kernel.string()});
        if (!spec.boot->initrd.empty()) {
            argv.insert(argv.end(), {"-initrd", spec.boot->initrd.string()});
        }
        if (!spec.boot->cmdline.empty()) {
            argv.insert(argv.end(), {"-append", spec.boot->cmdline});
        }
    }
    addDisplayArgs(argv, spec.display, plan, paths);
    addTpmArgs(argv, spec.tpm, paths);
    int nextFd = kFirstPassedFd;
    addDevices(argv, spec, plan, false, nextFd);
    unsigned index = 0;
    for (const auto& port : plan.hotplugPorts) {
        argv.insert(argv.end(),
                    {"-device", std::string(rootPortKind().driver) + ",id=" + port +
                                    at(plan, port) + ",chassis=" + std::to_string(index + 1) +
                                    ",port=" + std::to_string(0x10 + index)});
        ++index;
    }
    addDevices(argv, spec, plan, true, nextFd);
    return argv;
}

}  // namespace corral::hypervisor

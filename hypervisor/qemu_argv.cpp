#include "hypervisor/qemu_argv.hpp"

#include <stdexcept>

#include "hypervisor/instance_name.hpp"

namespace corral::hypervisor {
namespace {

// QEMU option syntax: a comma inside a value is written as two commas.
std::string escape(const std::string& value) {
    std::string out;
    for (char c : value) {
        out += c;
        if (c == ',') out += ',';
    }
    return out;
}

std::string at(const SlotPlan& plan, const std::string& id) {
    auto slot = plan.find(id);
    if (!slot) throw std::invalid_argument("slot plan has no place for device " + id);
    return ",bus=" + slot->bus + ",addr=" + slot->addr();
}

std::string socketChardev(const std::string& id, const std::filesystem::path& path) {
    return "socket,id=" + id + ",path=" + escape(path.string()) + ",server=on,wait=off";
}

std::string memoryMiB(std::uint64_t bytes) {
    return std::to_string((bytes + (1u << 20) - 1) >> 20) + "M";
}

void addDisks(std::vector<std::string>& argv, const InstanceSpec& spec, const SlotPlan& plan) {
    bool first = true;
    for (const auto& disk : spec.disks) {
        std::string readOnly = disk.readonly ? "on" : "off";
        std::string cache = disk.cache == DiskCache::None     ? ",cache.direct=on"
                            : disk.cache == DiskCache::Unsafe ? ",cache.no-flush=on"
                                                              : "";
        argv.insert(argv.end(),
                    {"-blockdev",
                     "driver=file,node-name=" + fileNodeName(disk.id) + ",filename=" +
                         escape(disk.path.string()) + ",read-only=" + readOnly + cache,
                     "-blockdev",
                     std::string("driver=") + toString(disk.format) +
                         ",node-name=" + formatNodeName(disk.id) +
                         ",file=" + fileNodeName(disk.id) + ",read-only=" + readOnly,
                     "-device",
                     "virtio-blk-pci,id=" + disk.id + ",drive=" + formatNodeName(disk.id) +
                         at(plan, disk.id) + (first && !spec.boot ? ",bootindex=1" : "")});
        first = false;
    }
}

void addNics(std::vector<std::string>& argv, const InstanceSpec& spec, const SlotPlan& plan) {
    int tapFd = kFirstTapFd;
    for (const auto& nic : spec.nics) {
        std::string netdev = nic.mode == NicMode::User
                                 ? "user,id=" + netdevId(nic.id)
                                 : "tap,id=" + netdevId(nic.id) + ",fd=" + std::to_string(tapFd++);
        argv.insert(argv.end(), {"-netdev", netdev, "-device",
                                 "virtio-net-pci,id=" + nic.id + ",netdev=" + netdevId(nic.id) +
                                     ",mac=" + nic.mac + at(plan, nic.id)});
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
    p.pidFile = p.dir / "qemu.pid";
    p.stateFile = p.dir / "state.json";
    p.logFile = p.dir / "qemu.log";
    return p;
}

std::string fileNodeName(std::string_view diskId) {
    return std::string(diskId) + "-file";
}
std::string formatNodeName(std::string_view diskId) {
    return std::string(diskId) + "-format";
}
std::string netdevId(std::string_view nicId) {
    return std::string(nicId) + "-netdev";
}

std::vector<std::string> buildQemuArgv(const InstanceSpec& spec, const SlotPlan& plan,
                                       const RuntimePaths& paths) {
    std::vector<std::string> argv = {
        kDefaultQemuBinary,
        "-name",
        "guest=" + spec.name + ",debug-threads=on",
        "-machine",
        std::string(toString(spec.machine.type)) + ",accel=" + spec.machine.accel,
        "-smp",
        std::to_string(spec.machine.cpus),
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
        socketChardev("corral-serial", paths.serialSocket),
        "-serial",
        "chardev:corral-serial"};
    if (spec.agent.negotiator) {
        argv.insert(
            argv.end(),
            {"-device", "virtio-serial-pci,id=corral-vserial" + at(plan, "corral-vserial"),
             "-chardev", socketChardev("corral-h2g", paths.negotiatorHostToGuest), "-device",
             "virtserialport,bus=corral-vserial.0,chardev=corral-h2g,name=" +
                 std::string(kHostToGuestPort),
             "-chardev", socketChardev("corral-g2h", paths.negotiatorGuestToHost), "-device",
             "virtserialport,bus=corral-vserial.0,chardev=corral-g2h,name=" +
                 std::string(kGuestToHostPort)});
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
    addDisks(argv, spec, plan);
    addNics(argv, spec, plan);
    unsigned index = 0;
    for (const auto& port : plan.hotplugPorts) {
        argv.insert(argv.end(), {"-device", "pcie-root-port,id=" + port + at(plan, port) +
                                                ",chassis=" + std::to_string(index + 1) +
                                                ",port=" + std::to_string(0x10 + index)});
        ++index;
    }
    return argv;
}

}  // namespace corral::hypervisor

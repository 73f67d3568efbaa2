#include "supervisor/metrics_exposition.hpp"

#include <charconv>

#include "supervisor/enum_names.hpp"

namespace corral::supervisor {

namespace {

class Writer {
  public:
    explicit Writer(std::string& out) : out_(out) {}

    // name{labels} value, labels given as alternating name, value.
    void sample(std::string_view family, std::initializer_list<std::string_view> labels,
                std::string_view value) {
        out_.append(family);
        if (labels.size() > 0) {
            out_ += '{';
            bool first = true;
            for (auto it = labels.begin(); it != labels.end(); it += 2) {
                if (!first) out_ += ',';
                first = false;
                out_.append(*it).append("=\"").append(escapeLabelValue(*(it + 1))).append("\"");
            }
            out_ += '}';
        }
        out_.append(" ").append(value).append("\n");
    }

  private:
    std::string& out_;
};

std::string integer(std::uint64_t value) {
    return std::to_string(value);
}

// Microseconds (or nanoseconds with scale 1e9) as seconds, shortest exact text.
std::string seconds(std::uint64_t value, double scale = 1e6) {
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, static_cast<double>(value) / scale);
    return ec == std::errc() ? std::string(buf, end) : "0";
}

using Emit = void (*)(Writer&, const char* family, const VmSample&);

struct Family {
    const char* name;
    const char* type;
    const char* help;
    Emit emit;
};

// A family with one series per running VM: a counter in µs shown in seconds, or a plain number.
template <std::uint64_t VmSample::*Field, bool Usec>
void perVm(Writer& w, const char* family, const VmSample& s) {
    if (s.running)
        w.sample(family, {"instance", s.name}, Usec ? seconds(s.*Field) : integer(s.*Field));
}

template <std::uint64_t PressureSample::*Field>
void pressure(Writer& w, const char* family, const VmSample& s) {
    if (s.running && s.pressure)
        w.sample(family, {"instance", s.name}, seconds((*s.pressure).*Field));
}

template <std::uint64_t DiskSample::*Field, bool Time = false>
void perDisk(Writer& w, const char* family, const VmSample& s) {
    for (const auto& d : s.disks)
        w.sample(family, {"instance", s.name, "device", d.device},
                 Time ? seconds(d.*Field, 1e9) : integer(d.*Field));
}

template <std::uint64_t NicSample::*Field>
void perNic(Writer& w, const char* family, const VmSample& s) {
    for (const auto& n : s.nics)
        w.sample(family, {"instance", s.name, "device", n.device, "interface", n.ifname},
                 integer(n.*Field));
}

void running(Writer& w, const char* family, const VmSample& s) {
    w.sample(family, {"instance", s.name}, s.running ? "1" : "0");
}

void state(Writer& w, const char* family, const VmSample& s) {
    for (const auto& [value, name] : kStateNames.entries())
        w.sample(family, {"instance", s.name, "state", name}, name == s.state ? "1" : "0");
}

void source(Writer& w, const char* family, const VmSample& s) {
    if (s.running) w.sample(family, {"instance", s.name, "source", toString(s.source)}, "1");
}

void vcpus(Writer& w, const char* family, const VmSample& s) {
    for (const auto& v : s.vcpus)
        w.sample(family, {"instance", s.name, "vcpu", std::to_string(v.index)}, seconds(v.cpuUsec));
}

constexpr Family kFamilies[] = {
    {"corral_vm_running", "gauge", "Whether a qemu process runs for the instance (1) or not (0).",
     running},
    {"corral_vm_state", "gauge", "The instance's lifecycle state: 1 for the current one.", state},
    {"corral_vm_stats_source", "gauge",
     "Where CPU and memory figures come from: cgroup (the VM's own scope) or process (qemu's "
     "/proc entries, when it has no cgroup of its own).",
     source},
    {"corral_vm_uptime_seconds", "gauge", "Seconds since qemu was started.",
     perVm<&VmSample::uptimeUsec, true>},
    {"corral_vm_cpu_seconds_total", "counter", "CPU time used by the VM (all qemu threads).",
     perVm<&VmSample::cpuUsec, true>},
    {"corral_vm_vcpu_seconds_total", "counter", "CPU time used by each vCPU thread.", vcpus},
    {"corral_vm_memory_bytes", "gauge",
     "Memory charged to the VM: the scope's memory.current, else qemu's resident set.",
     perVm<&VmSample::memoryBytes, false>},
    {"corral_vm_pressure_cpu_waiting_seconds_total", "counter",
     "Time some task of the VM's scope waited for a CPU (PSI).",
     pressure<&PressureSample::cpuUsec>},
    {"corral_vm_pressure_memory_waiting_seconds_total", "counter",
     "Time some task of the VM's scope stalled on memory (PSI).",
     pressure<&PressureSample::memoryUsec>},
    {"corral_vm_pressure_io_waiting_seconds_total", "counter",
     "Time some task of the VM's scope waited for I/O (PSI).", pressure<&PressureSample::ioUsec>},
    {"corral_vm_disk_read_bytes_total", "counter", "Bytes read by the guest from each disk.",
     perDisk<&DiskSample::readBytes>},
    {"corral_vm_disk_written_bytes_total", "counter", "Bytes written by the guest to each disk.",
     perDisk<&DiskSample::writtenBytes>},
    {"corral_vm_disk_read_operations_total", "counter", "Read requests completed per disk.",
     perDisk<&DiskSample::readOps>},
    {"corral_vm_disk_write_operations_total", "counter", "Write requests completed per disk.",
     perDisk<&DiskSample::writeOps>},
    {"corral_vm_disk_read_time_seconds_total", "counter",
     "Time spent in read requests per disk; divided by the operations, the mean latency.",
     perDisk<&DiskSample::readTimeNs, true>},
    {"corral_vm_disk_write_time_seconds_total", "counter",
     "Time spent in write requests per disk; divided by the operations, the mean latency.",
     perDisk<&DiskSample::writeTimeNs, true>},
    {"corral_vm_nic_received_bytes_total", "counter",
     "Bytes the guest received on each tap or bridge NIC.", perNic<&NicSample::rxBytes>},
    {"corral_vm_nic_transmitted_bytes_total", "counter",
     "Bytes the guest sent on each tap or bridge NIC.", perNic<&NicSample::txBytes>},
    {"corral_vm_nic_received_packets_total", "counter",
     "Packets the guest received on each tap or bridge NIC.", perNic<&NicSample::rxPackets>},
    {"corral_vm_nic_transmitted_packets_total", "counter",
     "Packets the guest sent on each tap or bridge NIC.", perNic<&NicSample::txPackets>},
    {"corral_vm_nic_received_dropped_total", "counter",
     "Packets to the guest dropped on each tap or bridge NIC.", perNic<&NicSample::rxDropped>},
    {"corral_vm_nic_transmitted_dropped_total", "counter",
     "Packets from the guest dropped on each tap or bridge NIC.", perNic<&NicSample::txDropped>},
};

}  // namespace

std::string escapeLabelValue(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

std::string exposition(std::span<const VmSample> samples) {
    std::string out;
    Writer writer(out);
    for (const auto& family : kFamilies) {
        out.append("# HELP ").append(family.name).append(" ").append(family.help).append("\n");
        out.append("# TYPE ").append(family.name).append(" ").append(family.type).append("\n");
        for (const auto& s : samples) family.emit(writer, family.name, s);
    }
    return out;
}

}  // namespace corral::supervisor

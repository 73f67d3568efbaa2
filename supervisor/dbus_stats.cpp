// org.corral1.Instance.Stats: the cached sample of each instance as properties. A read returns
// the cache at once and, when the sample is older than a second, starts a refresh whose arrival
// is announced with PropertiesChanged (StatsCache bounds how many run). A stopped instance reads
// as zeros and empty lists.
#include "supervisor/dbus_internal.hpp"
#include "supervisor/stats_cache.hpp"

namespace corral::supervisor {

namespace {

template <int (*Get)(sd_bus_message*, const VmSample&)>
int property(sd_bus*, const char*, const char*, const char*, sd_bus_message* reply, void* userdata,
             sd_bus_error*) {
    auto& ref = *static_cast<InstanceRef*>(userdata);
    return Get(reply, ref.stats->read(*ref.vm));
}

int getSampledAt(sd_bus_message* m, const VmSample& s) {
    return sd_bus_message_append(m, "t", s.sampledAtUsec);
}
int getSource(sd_bus_message* m, const VmSample& s) {
    return sd_bus_message_append(m, "s", std::string(toString(s.source)).c_str());
}
int getUptime(sd_bus_message* m, const VmSample& s) {
    return sd_bus_message_append(m, "t", s.uptimeUsec);
}
int getCpu(sd_bus_message* m, const VmSample& s) {
    return sd_bus_message_append(m, "t", s.cpuUsec);
}
int getVcpus(sd_bus_message* m, const VmSample& s) {
    int r = sd_bus_message_open_container(m, 'a', "(ut)");
    if (r < 0) return r;
    for (const auto& v : s.vcpus)
        if ((r = sd_bus_message_append(m, "(ut)", v.index, v.cpuUsec)) < 0) return r;
    return sd_bus_message_close_container(m);
}
int getMemory(sd_bus_message* m, const VmSample& s) {
    return sd_bus_message_append(m, "t", s.memoryBytes);
}
int getPressure(sd_bus_message* m, const VmSample& s) {
    auto p = s.pressure.value_or(PressureSample{});
    return sd_bus_message_append(m, "(ttt)", p.cpuUsec, p.memoryUsec, p.ioUsec);
}
int getDisks(sd_bus_message* m, const VmSample& s) {
    int r = sd_bus_message_open_container(m, 'a', "(stttttt)");
    if (r < 0) return r;
    for (const auto& d : s.disks) {
        r = sd_bus_message_append(m, "(stttttt)", d.device.c_str(), d.readBytes, d.writtenBytes,
                                  d.readOps, d.writeOps, d.readTimeNs, d.writeTimeNs);
        if (r < 0) return r;
    }
    return sd_bus_message_close_container(m);
}
int getNics(sd_bus_message* m, const VmSample& s) {
    int r = sd_bus_message_open_container(m, 'a', "(sstttttt)");
    if (r < 0) return r;
    for (const auto& n : s.nics) {
        r = sd_bus_message_append(m, "(sstttttt)", n.device.c_str(), n.ifname.c_str(), n.rxBytes,
                                  n.rxPackets, n.rxDropped, n.txBytes, n.txPackets, n.txDropped);
        if (r < 0) return r;
    }
    return sd_bus_message_close_container(m);
}

constexpr auto kChange = SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE;

}  // namespace

const char* const kStatsProperties[] = {"SampledAt", "Source",      "UptimeUsec", "CpuUsec",
                                        "VcpuUsec",  "MemoryBytes", "Pressure",   "Disks",
                                        "Nics",      nullptr};

const sd_bus_vtable kStatsVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("SampledAt", "t", property<getSampledAt>, 0, kChange),
    SD_BUS_PROPERTY("Source", "s", property<getSource>, 0, kChange),
    SD_BUS_PROPERTY("UptimeUsec", "t", property<getUptime>, 0, kChange),
    SD_BUS_PROPERTY("CpuUsec", "t", property<getCpu>, 0, kChange),
    SD_BUS_PROPERTY("VcpuUsec", "a(ut)", property<getVcpus>, 0, kChange),
    SD_BUS_PROPERTY("MemoryBytes", "t", property<getMemory>, 0, kChange),
    SD_BUS_PROPERTY("Pressure", "(ttt)", property<getPressure>, 0, kChange),
    SD_BUS_PROPERTY("Disks", "a(stttttt)", property<getDisks>, 0, kChange),
    SD_BUS_PROPERTY("Nics", "a(sstttttt)", property<getNics>, 0, kChange),
    SD_BUS_VTABLE_END};

}  // namespace corral::supervisor

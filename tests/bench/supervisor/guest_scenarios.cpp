#include "tests/bench/supervisor/guest_scenarios.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "tests/bench/supervisor/bench_daemon.hpp"

namespace corral::bench {
namespace {

using namespace std::chrono_literals;

std::string guestToml(const std::filesystem::path& imageDir) {
    std::ostringstream s;
    s << "[machine]\ntype = \"pc\"\naccel = \"tcg\"\ncpus = 1\nmemory = \"256M\"\n\n[boot]\n"
      << "kernel = \"" << (imageDir / "vmlinuz").string() << "\"\n"
      << "initrd = \"" << (imageDir / "initrd.img").string() << "\"\n"
      << "cmdline = \"console=ttyS0 quiet panic=-1\"\n\n[agent]\nnegotiator = true\n\n"
      << "[lifecycle]\nshutdown_timeout = \"2s\"\non_crash = \"stop\"\n";
    return s.str();
}

bool agentConnected(BenchDaemon& d, const std::string& name) {
    sd_bus_error error = SD_BUS_ERROR_NULL;
    int value = 0;
    int r =
        sd_bus_get_property_trivial(d.bus(), "org.corral1", d.objectPath(name).c_str(),
                                    "org.corral1.Instance", "AgentConnected", &error, 'b', &value);
    sd_bus_error_free(&error);
    return r >= 0 && value;
}

// GuestExecute(["true"], "", 10 s); false on a D-Bus error.
bool executeTrue(BenchDaemon& d, const std::string& name) {
    sd_bus_message* call = nullptr;
    sd_bus_message* reply = nullptr;
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message_new_method_call(d.bus(), &call, "org.corral1", d.objectPath(name).c_str(),
                                   "org.corral1.Instance", "GuestExecute");
    sd_bus_message_append(call, "ass", 1, "true", "");
    sd_bus_message_append(call, "t", uint64_t{10'000'000});
    int r = sd_bus_call(d.bus(), call, 30'000'000, &error, &reply);
    sd_bus_message_unref(call);
    sd_bus_message_unref(reply);
    sd_bus_error_free(&error);
    return r >= 0;
}

}  // namespace

GuestFigures measureGuest(const std::filesystem::path& imageDir, double executeSeconds,
                          int hotplugRuns) {
    BenchDaemon d;
    d.writeInstance("guest", guestToml(imageDir));
    d.startCorrald();
    d.callInstance("guest", "Start");
    // The guest boots and its agent answers: bounded polls, nothing here is timed.
    auto deadline = Clock::now() + 180s;
    while (!agentConnected(d, "guest") || !executeTrue(d, "guest")) {
        if (Clock::now() > deadline) throw std::runtime_error("guest agent never answered");
        std::this_thread::sleep_for(100ms);
    }
    GuestFigures f;
    auto start = Clock::now();
    while (microsSince(start) < executeSeconds * 1e6) {
        if (!executeTrue(d, "guest")) throw std::runtime_error("GuestExecute true failed");
        ++f.executeCalls;
    }
    f.executePerSecond = f.executeCalls / (microsSince(start) / 1e6);

    auto disk = d.dir() / "hotplug.img";
    std::ofstream(disk).close();
    std::filesystem::resize_file(disk, 16 << 20);
    std::vector<double> attach, detach, cycle;
    for (int i = 0; i < hotplugRuns; ++i) {
        auto t0 = Clock::now();
        d.attachDisk("guest", "hp", disk);
        attach.push_back(microsSince(t0) / 1000);
        auto t1 = Clock::now();
        d.callInstance("guest", "Detach", 60s, "hp");
        detach.push_back(microsSince(t1) / 1000);
        cycle.push_back(microsSince(t0) / 1000);
    }
    f.hotplugRuns = hotplugRuns;
    f.attachP50Ms = percentile(attach, 50);
    f.detachP50Ms = percentile(detach, 50);
    f.cycleP50Ms = percentile(cycle, 50);
    return f;
}

}  // namespace corral::bench

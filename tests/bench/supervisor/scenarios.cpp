#include "tests/bench/supervisor/scenarios.hpp"

#include <rapidjson/document.h>

#include <csignal>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/bench/monitor/raw_qmp_client.hpp"
#include "tests/bench/supervisor/bench_daemon.hpp"

namespace corral::bench {
namespace {

using namespace std::chrono_literals;

std::filesystem::path blankDisk(const std::filesystem::path& dir, const std::string& name) {
    auto path = dir / name;
    std::ofstream(path).close();
    std::filesystem::resize_file(path, 1 << 20);
    return path;
}

std::string vmName(int i) {
    char name[16];
    std::snprintf(name, sizeof(name), "vm%03d", i);
    return name;
}

// Polls the State property (not timed) until it is `expected`, bounded.
void waitState(BenchDaemon& d, const std::string& name, const std::string& expected) {
    auto deadline = Clock::now() + 30s;
    while (d.state(name) != expected) {
        if (Clock::now() > deadline) throw std::runtime_error(name + " never became " + expected);
        std::this_thread::sleep_for(5ms);
    }
}

// The argv corrald saved in state.json, with its runtime dir swapped for `to`.
std::vector<std::string> savedArgv(const std::filesystem::path& runtimeDir,
                                   const std::filesystem::path& to) {
    std::ifstream in(runtimeDir / "state.json");
    std::stringstream text;
    text << in.rdbuf();
    rapidjson::Document doc;
    doc.Parse(text.str().c_str());
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("argv"))
        throw std::runtime_error("no argv in " + (runtimeDir / "state.json").string());
    std::vector<std::string> argv;
    const std::string from = runtimeDir.string();
    for (const auto& arg : doc["argv"].GetArray()) {
        std::string s = arg.GetString();
        for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at))
            s.replace(at, from.size(), to.string());
        argv.push_back(s);
    }
    return argv;
}

double directStartMs(const std::vector<std::string>& argv, const std::filesystem::path& dir) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    auto start = Clock::now();
    auto qemu = corral::test::Process::spawn(argv, dir / "qemu.log");
    if (!corral::test::waitForPath(dir / "qmp.sock", 10s))
        throw std::runtime_error("direct qemu made no qmp.sock");
    RawQmpClient qmp((dir / "qmp.sock").string());
    double ms = microsSince(start) / 1000;
    qemu.kill(SIGKILL);
    qemu.wait(10s);
    return ms;
}

Latency sample(int n, const std::function<void()>& call) {
    std::vector<double> us;
    for (int i = 0; i < n; ++i) {
        auto start = Clock::now();
        call();
        us.push_back(microsSince(start));
    }
    return {percentile(us, 50), percentile(us, 99)};
}

Latency listLatency(BenchDaemon& d, int n, int expected) {
    return sample(n, [&] {
        if (d.listInstances() != static_cast<unsigned>(expected))
            throw std::runtime_error("ListInstances lost an instance");
    });
}

Latency propertyLatency(BenchDaemon& d, int n, int vms) {
    std::mt19937 random(42);
    return sample(n, [&] { d.state(vmName(static_cast<int>(random() % vms))); });
}

// Reads PropertiesChanged and raises `crashed` when State becomes "crashed".
int onPropertiesChanged(sd_bus_message* m, void* data, sd_bus_error*) {
    const char* iface = nullptr;
    if (sd_bus_message_read(m, "s", &iface) < 0) return 0;
    if (sd_bus_message_enter_container(m, 'a', "{sv}") < 0) return 0;
    while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
        const char* key = nullptr;
        const char* value = nullptr;
        sd_bus_message_read(m, "s", &key);
        if (std::string_view(key) == "State" && sd_bus_message_read(m, "v", "s", &value) >= 0) {
            if (std::string_view(value) == "crashed") *static_cast<bool*>(data) = true;
        } else {
            sd_bus_message_skip(m, "v");
        }
        sd_bus_message_exit_container(m);
    }
    return 0;
}

}  // namespace

StartOverhead measureStartOverhead(int runs) {
    BenchDaemon d;
    d.writeInstance("ovh", idleInstanceToml(blankDisk(d.dir(), "blank.img"), "stop"));
    d.startCorrald();
    d.callInstance("ovh", "Start");  // warm-up, and the argv to launch directly
    auto argv = savedArgv(d.runtimeDir("ovh"), d.dir() / "direct");
    d.callInstance("ovh", "Kill");
    waitState(d, "ovh", "stopped");

    std::vector<double> viaDbus, direct, difference;
    for (int i = 0; i < runs; ++i) {
        auto dbusRun = [&] {
            auto start = Clock::now();
            d.callInstance("ovh", "Start");
            viaDbus.push_back(microsSince(start) / 1000);
            d.callInstance("ovh", "Kill");
            waitState(d, "ovh", "stopped");
        };
        // Alternate which goes first so drift in machine load hits both alike.
        if (i % 2 == 0) dbusRun();
        direct.push_back(directStartMs(argv, d.dir() / "direct"));
        if (i % 2 == 1) dbusRun();
        difference.push_back(viaDbus.back() - direct.back());
    }
    return {runs, percentile(viaDbus, 50), percentile(direct, 50), percentile(difference, 50)};
}

std::vector<ScalePoint> measureScaleCurve(const std::vector<int>& counts, int samples) {
    BenchDaemon d;
    auto disk = blankDisk(d.dir(), "blank.img");
    for (int i = 0; i < counts.back(); ++i)
        d.writeInstance(vmName(i), idleInstanceToml(disk, "stop"));
    d.startCorrald();
    std::vector<ScalePoint> points;
    int started = 0;
    for (int count : counts) {
        std::vector<std::string> batch;
        for (; started < count; ++started) batch.push_back(vmName(started));
        ScalePoint p;
        p.vms = count;
        auto start = Clock::now();
        d.startAll(batch);
        p.batchStartS = microsSince(start) / 1e6;
        p.rssKib = rssKib(d.corraldPid());
        p.list = listLatency(d, samples, counts.back());
        p.property = propertyLatency(d, samples, count);
        points.push_back(p);
    }
    return points;
}

ScaleRun measureScale(int vms, int samples, double idleSeconds) {
    BenchDaemon d;
    auto disk = blankDisk(d.dir(), "blank.img");
    std::vector<std::string> names;
    for (int i = 0; i < vms; ++i) {
        names.push_back(vmName(i));
        d.writeInstance(names.back(), idleInstanceToml(disk, "stop"));
    }
    d.startCorrald();
    ScaleRun r;
    r.vms = vms;
    r.rssBeforeKib = rssKib(d.corraldPid());
    auto start = Clock::now();
    d.startAll(names);
    r.allRunningS = microsSince(start) / 1e6;
    for (const auto& name : names)
        if (d.state(name) != "running") throw std::runtime_error(name + " is not running");
    r.rssAfterKib = rssKib(d.corraldPid());

    long ticks = cpuTicks(d.corraldPid());
    // Idle means nothing to wait for: this window is the measurement itself.
    std::this_thread::sleep_for(std::chrono::duration<double>(idleSeconds));
    r.idleWindowS = idleSeconds;
    r.idleCpuPercent = 100.0 * static_cast<double>(cpuTicks(d.corraldPid()) - ticks) /
                       static_cast<double>(sysconf(_SC_CLK_TCK)) / idleSeconds;

    d.attachDisk(names[0], "slow", blankDisk(d.dir(), "slow.img"));
    bool detached = false;
    auto slot = d.detachAsync(names[0], "slow", &detached);
    r.listWhileStuck = listLatency(d, samples, vms);
    r.propertyWhileStuck = propertyLatency(d, samples, vms);
    if (detached) throw std::runtime_error("the guest-less Detach finished: nothing was stuck");
    sd_bus_slot_unref(slot);
    return r;
}

CrashEvents measureCrashEvents(int runs) {
    BenchDaemon d;
    d.writeInstance("evt", idleInstanceToml(blankDisk(d.dir(), "blank.img"), "stop"));
    d.startCorrald();
    bool crashed = false;
    sd_bus_slot* match = nullptr;
    if (sd_bus_match_signal(d.bus(), &match, "org.corral1", d.objectPath("evt").c_str(),
                            "org.freedesktop.DBus.Properties", "PropertiesChanged",
                            onPropertiesChanged, &crashed) < 0)
        throw std::runtime_error("cannot subscribe to PropertiesChanged");
    std::vector<double> us;
    for (int i = 0; i < runs; ++i) {
        d.callInstance("evt", "Start");
        pid_t pid = d.pid("evt");
        crashed = false;
        auto start = Clock::now();
        ::kill(pid, SIGKILL);
        auto deadline = start + 30s;
        while (!crashed) {
            if (Clock::now() > deadline) throw std::runtime_error("no State=crashed signal");
            if (sd_bus_process(d.bus(), nullptr) == 0) sd_bus_wait(d.bus(), 100'000);
        }
        us.push_back(microsSince(start));
    }
    sd_bus_slot_unref(match);
    return {runs, {percentile(us, 50), percentile(us, 99)}};
}

}  // namespace corral::bench

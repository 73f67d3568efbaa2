#include "tests/bench/supervisor/scenarios.hpp"

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <functional>
#include <random>
#include <stdexcept>
#include <thread>

#include "tests/bench/supervisor/bench_daemon.hpp"
#include "tests/bench/supervisor/direct_launch.hpp"

namespace corral::bench {
namespace {

using namespace std::chrono_literals;

// Polls the State property (not timed) until it is `expected`, bounded.
void waitState(BenchDaemon& d, const std::string& name, const std::string& expected) {
    auto deadline = Clock::now() + 30s;
    while (d.state(name) != expected) {
        if (Clock::now() > deadline) throw std::runtime_error(name + " never became " + expected);
        std::this_thread::sleep_for(5ms);
    }
}

// Instances vm000, vm001, ... sharing one blank disk; returns their names.
std::vector<std::string> writeIdleInstances(BenchDaemon& d, int vms) {
    auto disk = blankDisk(d.dir(), "blank.img");
    std::vector<std::string> names;
    for (int i = 0; i < vms; ++i) {
        names.push_back(vmName(i));
        d.writeInstance(names.back(), idleInstanceToml(disk, "stop"));
    }
    return names;
}

double directStartMs(const DirectLaunch& launch) {
    auto start = Clock::now();
    auto qemu = startDirect(launch);
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

// What a client polling a freshly spawned corrald saw.
struct Poll {
    double doneMs = 0;  // spawn until ListInstances reported the expected number running
    double firstAnswerMs = 0;
    int reads = 0;
    int refused = 0;
    std::vector<double> answeredUs;
};

// Spawns corrald, then reads Version (timed) about once a millisecond and, once corrald answers,
// ListInstances, until `running` instances are reported running.
Poll spawnAndPoll(BenchDaemon& d, unsigned running) {
    Poll poll;
    auto start = Clock::now();
    d.spawnCorrald();
    for (auto deadline = start + 60s;; std::this_thread::sleep_for(1ms)) {
        auto read = Clock::now();
        bool answered = d.readVersion();
        ++poll.reads;
        if (!answered) {
            ++poll.refused;
        } else {
            poll.answeredUs.push_back(microsSince(read));
            if (poll.answeredUs.size() == 1) poll.firstAnswerMs = microsSince(start) / 1000;
            if (d.listInstances("running") == running) break;
        }
        if (!d.corraldRunning()) throw std::runtime_error("corrald exited: " + d.corraldLog());
        if (Clock::now() > deadline)
            throw std::runtime_error("corrald did not report " + std::to_string(running) +
                                     " running in 60 s: " + d.corraldLog());
    }
    poll.doneMs = microsSince(start) / 1000;
    return poll;
}

bool hasRunas(const std::vector<std::string>& argv) {
    return std::find(argv.begin(), argv.end(), "-runas") != argv.end();
}

}  // namespace

StartOverhead measureStartOverhead(int runs) {
    BenchDaemon d;
    auto toml = idleInstanceToml(blankDisk(d.dir(), "blank.img"), "stop");
    d.writeInstance("ovh", toml + "\n[security]\nconfine = true\n");
    d.writeInstance("ovhopen", toml + "\n[security]\nconfine = false\n");
    d.startCorrald();
    d.callInstance("ovh", "Start");  // warm-up
    // Compared with what it should be compared with: a confined qemu (corrald runs as root) ...
    if (::geteuid() == 0 && !hasRunas(directLaunchOf(d, "ovh", d.dir() / "direct").argv))
        throw std::runtime_error("the confine = true instance's qemu has no -runas");
    d.callInstance("ovh", "Kill");
    waitState(d, "ovh", "stopped");
    d.callInstance("ovhopen", "Start");  // warm-up, and bare qemu's argv to launch directly
    auto launch = directLaunchOf(d, "ovhopen", d.dir() / "direct");
    // ... and bare qemu.
    if (hasRunas(launch.argv))
        throw std::runtime_error("the confine = false instance's qemu runs with -runas");
    d.callInstance("ovhopen", "Kill");
    waitState(d, "ovhopen", "stopped");

    std::vector<double> confined, open, direct, confinedShare, openShare, cost;
    auto dbusRun = [&](const std::string& name, std::vector<double>& into) {
        auto start = Clock::now();
        d.callInstance(name, "Start");
        into.push_back(microsSince(start) / 1000);
        d.callInstance(name, "Kill");
        waitState(d, name, "stopped");
    };
    for (int i = 0; i < runs; ++i) {
        // Rotate which goes first so drift in machine load hits all three alike.
        for (int step = 0; step < 3; ++step) {
            switch ((i + step) % 3) {
                case 0:
                    direct.push_back(directStartMs(launch));
                    break;
                case 1:
                    dbusRun("ovh", confined);
                    break;
                default:
                    dbusRun("ovhopen", open);
                    break;
            }
        }
        confinedShare.push_back(confined.back() - direct.back());
        openShare.push_back(open.back() - direct.back());
        cost.push_back(confined.back() - open.back());
    }
    StartOverhead o;
    o.runs = runs;
    o.dbusP50Ms = percentile(confined, 50);
    o.directP50Ms = percentile(direct, 50);
    o.overheadP50Ms = percentile(confinedShare, 50);
    o.dbusOpenP50Ms = percentile(open, 50);
    o.overheadOpenP50Ms = percentile(openShare, 50);
    o.confineCostP50Ms = percentile(cost, 50);
    return o;
}

std::vector<ScalePoint> measureScaleCurve(const std::vector<int>& counts, int samples) {
    BenchDaemon d;
    writeIdleInstances(d, counts.back());
    d.startCorrald();
    std::vector<ScalePoint> points;
    int started = 0;
    for (int count : counts) {
        std::vector<std::string> batch;
        for (; started < count; ++started) batch.push_back(vmName(started));
        ScalePoint p;
        p.vms = count;
        auto start = Clock::now();
        d.callAll(batch, "Start");
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
    auto names = writeIdleInstances(d, vms);
    d.startCorrald();
    ScaleRun r;
    r.vms = vms;
    r.rssBeforeKib = rssKib(d.corraldPid());
    auto start = Clock::now();
    d.callAll(names, "Start");
    r.allRunningS = microsSince(start) / 1e6;
    std::vector<DirectLaunch> launches;
    for (const auto& name : names) {
        if (d.state(name) != "running") throw std::runtime_error(name + " is not running");
        launches.push_back(directLaunchOf(d, name, d.dir() / "direct" / name));
    }
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

    // The baseline of the start at once, with corrald's VMs gone so both had the machine alone.
    d.callAll(names, "Kill");
    for (const auto& name : names) waitState(d, name, "stopped");
    r.directAllReadyS = startAllDirect(launches);
    return r;
}

RestartRun measureRestart(int vms, int runs) {
    BenchDaemon d;
    auto names = writeIdleInstances(d, vms);
    RestartRun r;
    r.vms = vms;
    r.runs = runs;
    r.coldStartMs = spawnAndPoll(d, 0).doneMs;
    d.callAll(names, "Start");
    std::vector<pid_t> pids;
    for (const auto& name : names) pids.push_back(d.pid(name));

    std::vector<double> stopMs, allMs, firstMs, cpuMs, answeredUs;
    for (int run = 0; run < runs; ++run) {
        stopMs.push_back(d.stopCorrald());
        for (size_t i = 0; i < names.size(); ++i)
            if (::kill(pids[i], 0) != 0) throw std::runtime_error(names[i] + " died with corrald");
        auto poll = spawnAndPoll(d, static_cast<unsigned>(vms));
        allMs.push_back(poll.doneMs);
        cpuMs.push_back(1000.0 * static_cast<double>(cpuTicks(d.corraldPid())) /
                        static_cast<double>(sysconf(_SC_CLK_TCK)));
        firstMs.push_back(poll.firstAnswerMs);
        r.reads += poll.reads;
        r.refused += poll.refused;
        answeredUs.insert(answeredUs.end(), poll.answeredUs.begin(), poll.answeredUs.end());
        for (size_t i = 0; i < names.size(); ++i)
            if (d.pid(names[i]) != pids[i]) throw std::runtime_error(names[i] + " was relaunched");
    }
    r.stopP50Ms = percentile(stopMs, 50);
    r.allReportedP50Ms = percentile(allMs, 50);
    r.allReportedMaxMs = percentile(allMs, 100);
    r.firstAnswerP50Ms = percentile(firstMs, 50);
    r.cpuP50Ms = percentile(cpuMs, 50);
    r.answered = {percentile(answeredUs, 50), percentile(answeredUs, 99)};
    r.answeredMaxUs = percentile(answeredUs, 100);
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

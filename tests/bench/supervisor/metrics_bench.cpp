// metrics-bench: what a Prometheus scrape of corrald costs with N running VMs (full: 100,
// --quick: 5). corrald's VMs are the supervisor bench's idle ones (q35, TCG, 32 MiB, one blank
// disk). Measured: the wall time of a scrape (connect to the last byte) at p50/p99, paced like a
// busy Prometheus (10 scrapes/s, so the cache refreshes every VM about once a second meanwhile)
// and back to back; corrald's CPU per scrape from /proc/PID/stat around the paced scrapes, which
// includes the refreshes they trigger. Baseline, same run: the bench itself reading the same
// /proc files of the same qemus (stat, status, cgroup, every vCPU thread's stat) in one pass.
#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "tests/bench/supervisor/bench_daemon.hpp"
#include "tests/integration/supervisor/metrics_client.hpp"

namespace corral::bench {
namespace {

using namespace std::chrono_literals;

struct Options {
    bool quick = false;
    std::string json;
};

std::size_t countOf(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

std::string scrape(unsigned short port) {
    return test::httpExchange(port, "GET /metrics HTTP/1.1\r\nHost: bench\r\n\r\n", 10s);
}

// What corrald reads of one qemu, read by the bench: the baseline.
std::size_t readDirect(pid_t pid) {
    auto proc = "/proc/" + std::to_string(pid);
    std::size_t bytes = 0;
    for (const char* file : {"/cgroup", "/stat", "/status"})
        bytes += test::readFile(proc + file).size();
    if (DIR* tasks = ::opendir((proc + "/task").c_str())) {
        while (auto* entry = ::readdir(tasks)) {
            if (entry->d_name[0] == '.') continue;
            auto task = proc + "/task/" + entry->d_name;
            if (test::readFile(task + "/comm").rfind("CPU ", 0) == 0)
                bytes += test::readFile(task + "/stat").size();
        }
        ::closedir(tasks);
    }
    return bytes;
}

int run(const Options& o) {
    const int vms = o.quick ? 5 : 100;
    const int scrapes = o.quick ? 20 : 100;
    BenchDaemon d;
    auto disk = blankDisk(d.dir(), "blank.img");
    std::vector<std::string> names;
    for (int i = 0; i < vms; ++i) {
        names.push_back(vmName(i));
        d.writeInstance(names.back(), idleInstanceToml(disk, "stop"));
    }
    auto port = test::freeTcpPort();
    d.setConfig("[metrics]\nlisten = \"127.0.0.1:" + std::to_string(port) + "\"\n");
    d.startCorrald();
    d.callAll(names, "Start");

    // Every VM sampled once (its disk appears) before measuring.
    std::string body;
    auto deadline = Clock::now() + 60s;
    while (Clock::now() < deadline) {
        body = test::httpBody(scrape(port));
        if (countOf(body, "corral_vm_disk_read_bytes_total{") == static_cast<std::size_t>(vms))
            break;
        std::this_thread::sleep_for(200ms);
    }
    if (countOf(body, "corral_vm_disk_read_bytes_total{") != static_cast<std::size_t>(vms))
        throw std::runtime_error("not every VM was sampled within 60 s:\n" + body);

    std::vector<double> paced, burst;
    long ticksBefore = cpuTicks(d.corraldPid());
    auto pacedStart = Clock::now();
    for (int i = 0; i < scrapes; ++i) {
        auto slot = pacedStart + i * 100ms;
        std::this_thread::sleep_until(slot);
        auto start = Clock::now();
        auto response = scrape(port);
        paced.push_back(microsSince(start));
        if (!response.starts_with("HTTP/1.1 200 ")) throw std::runtime_error("scrape failed");
    }
    long ticksAfter = cpuTicks(d.corraldPid());
    double pacedSeconds = microsSince(pacedStart) / 1e6;
    for (int i = 0; i < scrapes; ++i) {
        auto start = Clock::now();
        scrape(port);
        burst.push_back(microsSince(start));
    }
    double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
    double cpuMsPerScrape = (ticksAfter - ticksBefore) * 1000.0 / hz / scrapes;

    std::vector<pid_t> pids;
    for (const auto& name : names) pids.push_back(d.pid(name));
    std::vector<double> direct;
    long selfBefore = cpuTicks(getpid());
    for (int i = 0; i < scrapes; ++i) {
        auto start = Clock::now();
        for (pid_t pid : pids) readDirect(pid);
        direct.push_back(microsSince(start));
    }
    double directCpuMs = (cpuTicks(getpid()) - selfBefore) * 1000.0 / hz / scrapes;

    std::printf(
        "metrics: %d VMs, %d scrapes every 100 ms (%.1f s): scrape p50 %.0f us, p99 %.0f us; "
        "back to back p50 %.0f us, p99 %.0f us; corrald CPU %.2f ms per scrape; exposition %zu "
        "bytes | baseline: the same /proc files read directly, one pass p50 %.0f us, p99 %.0f "
        "us, %.2f ms CPU\n",
        vms, scrapes, pacedSeconds, percentile(paced, 50), percentile(paced, 99),
        percentile(burst, 50), percentile(burst, 99), cpuMsPerScrape, body.size(),
        percentile(direct, 50), percentile(direct, 99), directCpuMs);
    char json[1024];
    std::snprintf(json, sizeof json,
                  "{\"bench\":\"metrics\",\"vms\":%d,\"scrapes\":%d,\"scrape_p50_us\":%.0f,"
                  "\"scrape_p99_us\":%.0f,\"burst_p50_us\":%.0f,\"burst_p99_us\":%.0f,"
                  "\"corrald_cpu_ms_per_scrape\":%.3f,\"exposition_bytes\":%zu,"
                  "\"direct_pass_p50_us\":%.0f,\"direct_pass_p99_us\":%.0f,"
                  "\"direct_cpu_ms_per_pass\":%.3f}",
                  vms, scrapes, percentile(paced, 50), percentile(paced, 99), percentile(burst, 50),
                  percentile(burst, 99), cpuMsPerScrape, body.size(), percentile(direct, 50),
                  percentile(direct, 99), directCpuMs);
    std::printf("%s\n", json);
    if (!o.json.empty()) std::ofstream(o.json) << json << "\n";
    return 0;
}

}  // namespace
}  // namespace corral::bench

int main(int argc, char** argv) {
    corral::bench::Options options;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--quick") == 0) {
            options.quick = true;
        } else if (std::strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
            options.json = argv[++i];
        } else {
            std::fprintf(stderr, "usage: metrics-bench [--quick] [--json FILE]\n");
            return 2;
        }
    }
    try {
        return corral::bench::run(options);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "metrics-bench: %s\n", e.what());
        return 1;
    }
}

// migration-bench: the live migration of a booted, idle guest (TCG, 256 MiB) between two corralds
// on this host (Instance.Migrate through busctl, from the call to its reply: the destination's
// qemu started, the stream, the switchover, the guest running there), next to the same migration
// done by hand in the same run: the qemu command line corrald used, started twice by the bench
// (the destination with -incoming tcp:), raw QMP, `cont` on the destination once the source's
// MIGRATION event says completed. The difference is corral's share.
//
//   migration-bench [--quick] [--runs N] [--json FILE]
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <stdexcept>
#include <thread>

#include <rapidjson/document.h>

#include "tests/bench/monitor/raw_qmp_client.hpp"
#include "tests/integration/migration/migration_host.hpp"
#include "tests/support/serial_console.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::bench {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using corral::test::MigrationHost;
using corral::test::Process;

double msSince(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string hostConfig(int firstPort) {
    return "[migration]\nlisten_address = \"127.0.0.1\"\nport_range = \"" +
           std::to_string(firstPort) + "-" + std::to_string(firstPort + 9) + "\"\n";
}

// `text` with every "from/" replaced by "to/".
std::string swapDir(std::string text, const std::string& from, const std::string& to) {
    const std::string a = from + "/", b = to + "/";
    for (auto at = text.find(a); at != std::string::npos; at = text.find(a, at + b.size()))
        text.replace(at, a.size(), b);
    return text;
}

// What corrald ran for the VM: its argv, and the runtime dir it names (swapped per copy).
struct QemuLine {
    std::vector<std::string> argv;
    std::string dir;
    std::vector<std::string> in(const std::filesystem::path& other) const {
        std::vector<std::string> out;
        for (const auto& arg : argv) out.push_back(swapDir(arg, dir, other.string()));
        return out;
    }
};

QemuLine commandLine(pid_t pid, const std::filesystem::path& dir) {
    auto cmdline = corral::test::readFile("/proc/" + std::to_string(pid) + "/cmdline");
    if (cmdline.empty())
        throw std::runtime_error("no command line for qemu " + std::to_string(pid));
    QemuLine line{{}, dir.string()};
    for (size_t at = 0; at < cmdline.size();) {
        auto end = cmdline.find('\0', at);
        if (end == std::string::npos) end = cmdline.size();
        line.argv.push_back(cmdline.substr(at, end - at));
        at = end + 1;
    }
    return line;
}

// The next line that is not an event (the reply to what was sent), or the next event `name`.
rapidjson::Document next(RawQmpClient& qmp, const std::string& line, const char* event = nullptr) {
    rapidjson::Document doc;
    for (auto text = line.empty() ? qmp.readLine() : qmp.roundTrip(line);; text = qmp.readLine()) {
        doc.Parse(text.c_str());
        if (doc.HasParseError() || !doc.IsObject()) throw std::runtime_error("QMP sent " + text);
        if (doc.HasMember("error")) throw std::runtime_error("QMP error: " + text);
        bool isEvent = doc.HasMember("event");
        if (!event && !isEvent) return doc;
        if (event && isEvent && std::strcmp(doc["event"].GetString(), event) == 0) return doc;
    }
}

struct BareQemu {
    Process process;
    std::unique_ptr<RawQmpClient> qmp;
};

BareQemu spawnBare(std::vector<std::string> argv, const std::filesystem::path& dir) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    BareQemu q;
    q.process = Process::spawn(argv, dir / "qemu.log");
    auto socket = dir / "qmp.sock";
    for (auto deadline = Clock::now() + 60s; !std::filesystem::exists(socket);
         std::this_thread::sleep_for(1ms))
        if (!q.process.running() || Clock::now() > deadline)
            throw std::runtime_error("bare qemu made no " + socket.string() + ": " +
                                     corral::test::readFile(dir / "qemu.log"));
    q.qmp = std::make_unique<RawQmpClient>(socket.string());
    return q;
}

// One migration by hand of a freshly booted copy; the milliseconds from spawning the destination
// to its `cont` answered (what Migrate's reply waits for in corrald).
double bareMigration(const QemuLine& line, const std::filesystem::path& scratch, int port) {
    auto src = spawnBare(line.in(scratch / "bare-src"), scratch / "bare-src");
    next(*src.qmp, R"({"execute":"cont"})");
    {
        corral::test::SerialConsole console(scratch / "bare-src" / "serial.sock", 10s);
        if (!console.waitFor(std::regex("corral-guest: userspace ready"), 180s))
            throw std::runtime_error("the bare source's guest did not boot: " +
                                     console.transcript());
    }
    auto uri = "tcp:127.0.0.1:" + std::to_string(port);
    auto start = Clock::now();
    auto argv = line.in(scratch / "bare-dst");
    argv.push_back("-incoming");
    argv.push_back(uri);
    auto dst = spawnBare(argv, scratch / "bare-dst");
    next(*src.qmp, R"({"execute":"migrate-set-capabilities","arguments":{"capabilities":[)"
                   R"({"capability":"events","state":true}]}})");
    next(*src.qmp, R"({"execute":"migrate","arguments":{"uri":")" + uri + R"("}})");
    for (;;) {
        auto event = next(*src.qmp, "", "MIGRATION");
        std::string status = event["data"]["status"].GetString();
        if (status == "completed") break;
        if (status == "failed" || status == "cancelled")
            throw std::runtime_error("the bare migration " + status);
    }
    next(*dst.qmp, R"({"execute":"cont"})");
    double ms = msSince(start);
    src.process.kill(SIGKILL);
    dst.process.kill(SIGKILL);
    src.process.wait(10s);
    dst.process.wait(10s);
    return ms;
}

double p50(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

void printFigures(const char* what, const std::vector<double>& ms) {
    std::cout << "migration-bench: " << what << " p50 " << p50(ms) << " ms, min "
              << *std::min_element(ms.begin(), ms.end()) << " ms, max "
              << *std::max_element(ms.begin(), ms.end()) << " ms (" << ms.size() << " runs)\n";
}

int run(int runs, const std::string& json) {
    MigrationHost a("a"), b("b");
    a.writeDefinition("vm1", corral::test::guestDefinition());
    a.start(hostConfig(49900));
    b.start(hostConfig(49910));
    auto started = a.call("vm1", "Start");
    if (started.status != 0) throw std::runtime_error("Start: " + started.output + a.log());
    if (!a.waitProperty("vm1", "AgentConnected", "b true", 180s))
        throw std::runtime_error("the guest did not boot under corrald: " + a.log());
    auto line = commandLine(a.pid("vm1"), a.runtimeDir() / "vm1");
    corral::test::TempDir scratch;

    // What busctl itself costs (a process, a connection, one call), part of corral's figure.
    std::vector<double> busctl;
    for (int i = 0; i < 5; ++i) {
        auto start = Clock::now();
        a.property("vm1", "State");
        busctl.push_back(msSince(start));
    }

    // Corral first: the booted guest goes back and forth; each side undefines what left it.
    std::vector<double> corral, bare;
    MigrationHost* hosts[] = {&a, &b};
    for (int i = 0; i < runs; ++i) {
        auto& from = *hosts[i % 2];
        auto& to = *hosts[(i + 1) % 2];
        auto start = Clock::now();
        auto migrated = from.call("vm1", "Migrate", {"sa{sv}", to.address(), "0"}, 300s);
        double ms = msSince(start);
        if (migrated.status != 0)
            throw std::runtime_error("Migrate: " + migrated.output + from.log() + to.log());
        corral.push_back(ms);
        auto undefined = from.call("vm1", "Undefine", {"a{sv}", "0"});
        if (undefined.status != 0)
            throw std::runtime_error("Undefine on the source: " + undefined.output + from.log());
    }
    auto& last = *hosts[runs % 2];
    last.call("vm1", "Kill");
    if (!last.waitProperty("vm1", "State", "s \"stopped\"", 30s))
        throw std::runtime_error("the VM did not stop: " + last.log());

    for (int i = 0; i < runs; ++i) bare.push_back(bareMigration(line, scratch.path(), 49920));

    printFigures("corral Migrate (busctl call to reply)", corral);
    printFigures("bare qemu + raw QMP (destination spawn to cont)", bare);
    printFigures("busctl get-property (included in corral's figure)", busctl);
    std::cout << "migration-bench: corral's share p50 " << p50(corral) - p50(bare)
              << " ms (busctl's included)\n";
    if (!json.empty())
        std::ofstream(json) << R"({"bench":"migration","runs":)" << runs << R"(,"corral_p50_ms":)"
                            << p50(corral) << R"(,"bare_p50_ms":)" << p50(bare)
                            << R"(,"busctl_p50_ms":)" << p50(busctl) << "}\n";
    return 0;
}

}  // namespace
}  // namespace corral::bench

int main(int argc, char** argv) {
    int runs = 5;
    std::string json;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--quick") == 0) {
            runs = 1;
        } else if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            runs = std::max(1, std::atoi(argv[++i]));
        } else if (std::strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
            json = argv[++i];
        } else {
            std::cerr << "usage: migration-bench [--quick] [--runs N] [--json FILE]\n";
            return 2;
        }
    }
    try {
        return corral::bench::run(runs, json);
    } catch (const std::exception& e) {
        std::cerr << "migration-bench: " << e.what() << "\n";
        return 1;
    }
}

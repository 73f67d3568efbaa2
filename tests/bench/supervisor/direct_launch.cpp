#include "tests/bench/supervisor/direct_launch.hpp"

#include <rapidjson/document.h>

#include <stdexcept>
#include <thread>

#include "tests/bench/monitor/raw_qmp_client.hpp"
#include "tests/support/temp_dir.hpp"

namespace corral::bench {
namespace {

using namespace std::chrono_literals;

// `text` with every "from/" replaced by "to/".
std::string swapDir(std::string text, const std::filesystem::path& from,
                    const std::filesystem::path& to) {
    const std::string a = from.string() + "/", b = to.string() + "/";
    for (auto at = text.find(a); at != std::string::npos; at = text.find(a, at + b.size()))
        text.replace(at, a.size(), b);
    return text;
}

// The reply to `command`, skipping any event QEMU sends before it.
rapidjson::Document execute(RawQmpClient& qmp, const std::string& command) {
    rapidjson::Document doc;
    for (auto line = qmp.roundTrip(command);; line = qmp.readLine()) {
        doc.Parse(line.c_str());
        if (doc.HasParseError() || !doc.IsObject())
            throw std::runtime_error("direct qemu's QMP sent " + line);
        if (!doc.HasMember("event")) return doc;
    }
}

}  // namespace

DirectLaunch directLaunchOf(BenchDaemon& d, const std::string& name,
                            const std::filesystem::path& dir) {
    auto cmdline = corral::test::readFile("/proc/" + std::to_string(d.pid(name)) + "/cmdline");
    if (cmdline.empty()) throw std::runtime_error("no command line for the qemu of " + name);
    DirectLaunch launch;
    for (size_t at = 0; at < cmdline.size();) {
        auto end = cmdline.find('\0', at);
        if (end == std::string::npos) end = cmdline.size();
        launch.argv.push_back(swapDir(cmdline.substr(at, end - at), d.runtimeDir(name), dir));
        at = end + 1;
    }
    launch.dir = dir;
    launch.qmpSocket = swapDir(d.stringProperty(name, "QmpSocket"), d.runtimeDir(name), dir);
    return launch;
}

corral::test::Process startDirect(const DirectLaunch& launch) {
    std::filesystem::remove_all(launch.dir);
    std::filesystem::create_directories(launch.dir);
    auto log = launch.dir / "qemu.log";
    auto qemu = corral::test::Process::spawn(launch.argv, log);
    for (auto deadline = Clock::now() + 60s; !std::filesystem::exists(launch.qmpSocket);
         std::this_thread::sleep_for(10ms)) {
        if (!qemu.running() || Clock::now() > deadline)
            throw std::runtime_error("direct qemu made no " + launch.qmpSocket.string() + ": " +
                                     corral::test::readFile(log));
    }
    RawQmpClient qmp(launch.qmpSocket.string());  // greeting and qmp_capabilities
    auto status = execute(qmp, R"({"execute": "query-status"})");
    if (!status.HasMember("return") || !status["return"].IsObject() ||
        !status["return"].HasMember("status"))
        throw std::runtime_error("direct qemu gave no status");
    return qemu;
}

double startAllDirect(const std::vector<DirectLaunch>& launches) {
    std::vector<corral::test::Process> qemus(launches.size());
    std::vector<std::string> errors(launches.size());
    auto start = Clock::now();
    {
        std::vector<std::jthread> threads;
        threads.reserve(launches.size());
        for (size_t i = 0; i < launches.size(); ++i)
            threads.emplace_back([&, i] {
                try {
                    qemus[i] = startDirect(launches[i]);
                } catch (const std::exception& e) {
                    errors[i] = e.what();
                }
            });
    }  // joined: each qemu is ready or its thread left an error
    double seconds = microsSince(start) / 1e6;
    for (const auto& error : errors)
        if (!error.empty()) throw std::runtime_error("direct launch: " + error);
    return seconds;
}

}  // namespace corral::bench

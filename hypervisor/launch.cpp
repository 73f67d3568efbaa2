#include "hypervisor/launch.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <stdexcept>

#include "hypervisor/confinement.hpp"
#include "hypervisor/cpu_models.hpp"
#include "hypervisor/launch_files.hpp"
#include "hypervisor/log_paths.hpp"

namespace corral::hypervisor {
namespace {

std::uint64_t realtimeMicros() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

}  // namespace

LaunchedInstance launchInstance(const boost::asio::any_io_executor& executor,
                                const InstanceSpec& spec, const std::filesystem::path& runtimeRoot,
                                const std::string& binary, const IncomingLayout* incoming,
                                const std::filesystem::path& logRoot,
                                const ConfinePolicy& confine) {
    if (auto why = checkCpuModel(spec.machine.cpu.model, binary)) throw std::runtime_error(*why);
    auto plan = planSlots(spec);
    if (incoming) plan.devices = incoming->devices;
    auto paths = RuntimePaths::forInstance(runtimeRoot, spec.name);
    if (!logRoot.empty()) placeLogs(paths, logRoot, spec.name);
    // QEMU would fail on the locked pid file while the socket still leads to the other qemu.
    if (auto holder = socketListener(paths.qmpSocket)) {
        auto who = *holder ? "pid " + std::to_string(*holder) : std::string("a process");
        throw std::runtime_error("another qemu of " + spec.name + " (" + who +
                                 ") is running outside corrald's control and holds " +
                                 paths.qmpSocket.string() + "; stop it before starting " +
                                 spec.name);
    }
    createRuntimeDir(paths);
    createLogFiles(paths);
    // Refused here, with the path and errno, rather than by a qemu that dies saying it in its log.
    if (auto why = unopenableFile(spec, plan.devices)) throw std::runtime_error(*why);
    auto argv = buildQemuArgv(spec, plan, paths);
    argv.front() = binary;
    if (incoming && incoming->deferIncoming) argv.insert(argv.end(), {"-incoming", "defer"});
    auto why = unconfinedWhy(confine, spec.security.confine);
    if (why && confine.unconfined) confine.unconfined(spec.name, paths.logFile, *why);
    auto confined = launchConfinement(confine, spec.security.confine, runtimeRoot, spec.name);
    argv.insert(argv.end(), confined.begin(), confined.end());
    RuntimeState state;
    state.argv = argv;
    state.devices = plan.devices;
    // Taps stay open only until qemu holds its copies (closed when `taps` goes out of scope).
    auto taps = openBootFds(state.devices);
    std::vector<int> fds;
    for (const auto& tap : taps) fds.push_back(tap.fd());
    state.startedAtUsec = realtimeMicros();
    auto process = QemuProcess::spawn(executor, argv, paths.logFile, fds);
    state.pid = process.pid();
    if (auto error = writeState(paths, state)) {
        process.kill(SIGKILL);
        ::waitpid(process.pid(), nullptr, 0);
        throw std::runtime_error(*error);
    }
    return {std::move(plan), std::move(paths), std::move(state), std::move(process)};
}

}  // namespace corral::hypervisor

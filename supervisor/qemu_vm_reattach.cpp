// QemuVm at daemon start: adopt the qemu a previous corrald left running, or clean up after it.
#include <algorithm>

#include "hypervisor/launch.hpp"
#include "supervisor/qemu_vm.hpp"

namespace corral::supervisor {

namespace asio = boost::asio;

// corrald killed between spawning qemu and writing state.json leaves a qemu that only its own
// pidfile points to. Its command line names this runtime dir's pidfile, so it is ours; it never
// left prelaunch (launch continues it only after state.json exists).
std::optional<hypervisor::RuntimeState> QemuVm::findUnrecorded() const {
    auto pid = hypervisor::readPidFile(paths_);
    if (!pid) return std::nullopt;
    auto argv = context_.parts.cmdline(*pid);
    if (!argv || std::find(argv->begin(), argv->end(), paths_.pidFile.string()) == argv->end())
        return std::nullopt;
    hypervisor::RuntimeState state;
    state.argv = *argv;
    state.pid = *pid;
    state.startedAtUsec = context_.clock.realtimeUsec();
    if (spec_) state.devices = hypervisor::planSlots(*spec_).devices;
    return state;
}

asio::awaitable<void> QemuVm::reattach() {
    if (!std::filesystem::exists(paths_.dir)) {
        settleSave();
        settleBackup();
        co_return;
    }
    std::string problem;
    auto state = hypervisor::readState(paths_, problem);
    bool recorded = state.has_value();
    if (!state) state = findUnrecorded();
    std::unique_ptr<ProcessHandle> process;
    if (state) process = context_.parts.adopt(state->pid, state->argv, problem);
    if (!process) {
        log(5, "cleaning stale runtime dir " + paths_.dir.string() + " (" + problem + ")");
        if (auto tpm = adoptTpm(state ? &*state : nullptr)) tpm->stop();  // its qemu is gone
        hypervisor::removeRuntimeDir(paths_);
        settleSave();
        settleBackup();
        co_return;
    }
    auto tpm = adoptTpm(&*state);
    track(std::move(process), std::move(*state), std::move(tpm));
    logEvent("corrald started; took over qemu (pid " + std::to_string(running_->pid()) + ")");
    if (!recorded) {
        log(4, "state.json unreadable (" + problem + "); qemu.pid names our qemu (pid " +
                   std::to_string(running_->pid()) + "): adopting it and rewriting state.json");
        running_->persist();
    }
    co_await takeOverTracked();
    settleSave();
    settleBackup();
}

asio::awaitable<void> QemuVm::takeOverTracked() {
    bool running = true;
    try {
        running = co_await running_->takeOver();
    } catch (const Lifetime::Ended&) {
        co_return;  // it died while we looked at it
    }
    const auto& adopted = running_->state();
    instance_.adopt(running_->pid(), running, adopted.startedAtUsec, adopted.shutdownDeadlineUsec);
    if (context_.scopes)
        context_.scopes->adopt(
            identifyMachine(name_, running_->pid(), adopted.argv, adopted.devices));
    devicesChanged().emit();
}

}  // namespace corral::supervisor
